"""Check paraphrase-suite files against the format of docs/UNDERSTANDING.md.

    python scripts/check_paraphrases.py kinora/eval/paraphrase/dev-1.jsonl

Prints how many prompts each language and construction class has, or the first bad line.
"""

import sys
from collections import Counter
from pathlib import Path

from kinora.errors import KinoraError
from kinora.eval.paraphrase import read_file

if __name__ == "__main__":
    total: Counter = Counter()
    classes: Counter = Counter()
    try:
        for p in sys.argv[1:]:
            for it in read_file(Path(p), "dev"):
                total[it.lang] += 1
                classes.update(f"{it.lang}:{c}" for c in it.classes)
    except KinoraError as e:
        sys.exit(f"error: {e}")
    print(dict(total))
    print(dict(sorted(classes.items())))
