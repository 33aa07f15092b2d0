"""`kinora project`: a film of shots and takes (kinora.timeline); every verb one library call.

    kinora project new film --prompt "a red ball rolls left" --prompt "一个蓝色的方块掉下来" --seconds 4
    kinora project show film
    kinora project edit film --shot 1 --regenerate [--seed 7]
    kinora project edit film --shot 2 --prompt "a blue cube slides right"
    kinora project use film --shot 1 --take 1
    kinora project add film --prompt "a green cylinder falls" [--at 2]
    kinora project delete film --shot 3
    kinora project move film --shot 3 --to 1
    kinora project undo film [--revision 4]
    kinora project edit film --shot 1 --trim 0.5:3      # frames copied bit for bit, a new take
    kinora project edit film --shot 1 --split 2          # two shots, cut at 2 s
    kinora project edit film --shot 1 --edit-region 0.5,0,1,1 --edit-time 1:3 [--with "a blue cube"]
    kinora project edit film --shot 1 --change 1:color=green   # "make the ball green": only its pixels
    kinora project edit film --shot 1 --extend 2 [--backward]
    kinora project edit film --shot 1 --restyle "a purple ball" --strength 0.5   # SDEdit
    kinora project edit film --shot 1 --loop 1 | --bridge 1 | --crossfade 0.5
    kinora project render film -o out/film.mp4 --otio out/film.otio [--resume]
    kinora project import film out/film-edited.otio      # an editor's reorder / trim / removal, as a new revision
"""

from __future__ import annotations

from kinora.cli.args import add_backend, edit_region, seed, threads
from kinora.label.config import TRUTH_MODES


def register(sub) -> None:
    p = sub.add_parser("project", help="a film project: shots, takes, non-destructive edits, the film render")
    psub = p.add_subparsers(dest="project_command", metavar="PROJECT_COMMAND", parser_class=type(p))
    psub.required = True

    q = psub.add_parser("new", help="a new project, one shot per --prompt, each with its first take")
    q.add_argument("folder")
    q.add_argument("--prompt", action="append", required=True, help="one shot (repeat for more shots, in order)")
    q.add_argument("--seconds", type=float, default=None, help="each shot's length (default: as its prompt says)")
    q.add_argument("--seed", type=seed, default=0, help="the first shot's seed; the next shots count on from it")
    q.add_argument("--model", default=None, help="DiT checkpoint or folder (default: the shipped model)")
    add_backend(q, "--model", "model")
    q.add_argument("--physics", action="store_true", help="every take with the simulator in the loop")
    q.add_argument("--truth-mode", default="story", choices=TRUTH_MODES)
    q.add_argument("--steps", type=int, default=None)
    q.add_argument("--guidance", type=float, default=None)
    q.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    q.add_argument("--threads", type=threads, default=None)
    q.add_argument("--plan-only", action="store_true",
                   help="read the shots but make no takes yet: 'kinora project render' makes them (resumably)")
    q.set_defaults(func=cmd_new)

    q = psub.add_parser("show", help="shots, takes, the active take and the edits, as a table")
    q.add_argument("folder")
    q.set_defaults(func=cmd_show)

    q = psub.add_parser("edit", help="a new take of one shot (one edit per call)")
    q.add_argument("folder")
    q.add_argument("--shot", type=int, required=True, help="shot number, from 1 (see 'kinora project show')")
    kind = q.add_mutually_exclusive_group(required=True)
    kind.add_argument("--regenerate", action="store_true", help="the same prompt with another seed")
    kind.add_argument("--prompt", default=None, help="re-prompt: a new take from this prompt")
    kind.add_argument("--trim", default=None, metavar="START:END",
                      help="keep START..END seconds of the active take (either may be empty)")
    kind.add_argument("--split", type=float, default=None, metavar="AT", help="cut the shot in two at AT seconds")
    kind.add_argument("--edit-region", default=None, metavar="X0,Y0,X1,Y1",
                      help="regenerate this box (fractions of the frame); the rest is kept bit for bit")
    kind.add_argument("--change", default=None, metavar="OBJECT:FIELD=VALUE",
                      help="one attribute of one object (its number or id), e.g. 1:color=green; only its pixels "
                           "are regenerated")
    kind.add_argument("--extend", type=float, default=None, metavar="SECONDS", help="generate more after the take")
    kind.add_argument("--restyle", default=None, metavar="PROMPT",
                      help="SDEdit: noise the take to --strength and denoise it from PROMPT")
    kind.add_argument("--loop", type=float, default=None, metavar="SECONDS",
                      help="add SECONDS of frames leading back to the first: the take plays seamlessly on repeat")
    kind.add_argument("--bridge", type=float, default=None, metavar="SECONDS",
                      help="a new shot of SECONDS between this shot and the next, from one into the other")
    kind.add_argument("--crossfade", type=float, default=None, metavar="SECONDS",
                      help="dissolve from this shot into the next over SECONDS (0 removes it)")
    q.add_argument("--edit-time", default=None, metavar="START:END", help="with --edit-region: the span, in seconds")
    q.add_argument("--with", dest="region_prompt", default=None, metavar="PROMPT",
                   help="with --edit-region: what to show there (default: the shot's prompt)")
    q.add_argument("--backward", action="store_true", help="with --extend: before the take instead of after it")
    q.add_argument("--strength", type=float, default=None,
                   help="with --restyle: how far to noise the take, 0 to 1 (default 0.6; low keeps more)")
    q.add_argument("--seed", type=seed, default=None)
    q.set_defaults(func=cmd_edit)

    q = psub.add_parser("use", help="choose the take the film shows for one shot")
    q.add_argument("folder")
    q.add_argument("--shot", type=int, required=True)
    q.add_argument("--take", type=int, required=True)
    q.set_defaults(func=cmd_use)

    q = psub.add_parser("add", help="a new shot with its first take")
    q.add_argument("folder")
    q.add_argument("--prompt", required=True)
    q.add_argument("--at", type=int, default=None, help="its position, from 1 (default: the end)")
    q.add_argument("--seconds", type=float, default=None)
    q.add_argument("--seed", type=seed, default=0)
    q.set_defaults(func=cmd_add)

    q = psub.add_parser("delete", help="take a shot out of the film (its takes stay in earlier revisions)")
    q.add_argument("folder")
    q.add_argument("--shot", type=int, required=True)
    q.set_defaults(func=cmd_delete)

    q = psub.add_parser("move", help="move a shot to another position")
    q.add_argument("folder")
    q.add_argument("--shot", type=int, required=True)
    q.add_argument("--to", type=int, required=True)
    q.set_defaults(func=cmd_move)

    q = psub.add_parser("undo", help="bring back the previous revision (or --revision N) as a new revision")
    q.add_argument("folder")
    q.add_argument("--revision", type=int, default=None)
    q.set_defaults(func=cmd_undo)

    q = psub.add_parser("render", help="the active takes joined into one labeled MP4")
    q.add_argument("folder")
    q.add_argument("-o", "--out", required=True, help="the film, *.mp4")
    q.add_argument("--otio", default=None, help="also write the timeline as OpenTimelineIO (*.otio)")
    q.add_argument("--force", action="store_true", help="replace the outputs if they exist")
    q.add_argument("--resume", action="store_true",
                   help="continue a render that was killed while making takes: the same film, bit for bit")
    q.set_defaults(func=cmd_render)

    q = psub.add_parser("import", help="apply an edited .otio timeline (order, trims, removals) as a new revision")
    q.add_argument("folder")
    q.add_argument("otio", help="the timeline an editor changed")
    q.set_defaults(func=cmd_import)


def cmd_new(args) -> int:
    from kinora.timeline.edits import new_project

    p = new_project(args.folder, args.prompt, seconds=args.seconds, seed=args.seed, model=args.model,
                    backend=args.backend, physics=args.physics, truth_mode=args.truth_mode, steps=args.steps,
                    guidance=args.guidance, precision=args.precision, threads=args.threads,
                    generate=not args.plan_only)
    print(f"made {p.folder}: {len(p.doc.shots)} shot(s){' (planned)' if args.plan_only else ''}, "
          f"revision {p.doc.revision}")
    return 0


def cmd_show(args) -> int:
    from kinora.timeline.show import project_table

    print(project_table(args.folder))
    return 0


def cmd_edit(args) -> int:
    from kinora.errors import KinoraError
    from kinora.timeline import edits

    if args.seed is not None and (args.trim is not None or args.split is not None or args.crossfade is not None):
        raise KinoraError("--seed applies to edits that generate; a trim or split copies frames")
    for flag, value, needs in (("--edit-time", args.edit_time, args.edit_region), ("--with", args.region_prompt,
                               args.edit_region), ("--backward", args.backward or None, args.extend),
                               ("--strength", args.strength, args.restyle)):
        if value is not None and needs is None:
            owner = {"--backward": "--extend", "--strength": "--restyle"}.get(flag, "--edit-region")
            raise KinoraError(f"{flag} belongs to {owner}")
    if args.edit_region is not None:
        region = edit_region(args.edit_region, args.edit_time)
        take = edits.inpaint(args.folder, args.shot, region.box, region.span, prompt=args.region_prompt,
                             seed=args.seed)
    elif args.change is not None:
        obj, _, rest = args.change.partition(":")
        field, _, value = rest.partition("=")
        if not (obj and field and value):
            raise KinoraError(f"--change {args.change!r} is not OBJECT:FIELD=VALUE, e.g. 1:color=green")
        take = edits.change_object(args.folder, args.shot, int(obj) if obj.isdigit() else obj, field, value,
                                   seed=args.seed)
    elif args.crossfade is not None:
        edits.crossfade(args.folder, args.shot, args.crossfade)
        print(f"shot {args.shot}: crossfade of {args.crossfade:g} s into the next shot")
        return 0
    elif args.bridge is not None:
        mid = edits.bridge(args.folder, args.shot, args.bridge, seed=args.seed)
        print(f"added bridge shot {mid.id} ({mid.seconds:g} s) after shot {args.shot}")
        return 0
    elif args.loop is not None:
        take = edits.loop(args.folder, args.shot, args.loop, seed=args.seed)
    elif args.restyle is not None:
        take = edits.restyle(args.folder, args.shot, args.restyle, strength=0.6 if args.strength is None
                             else args.strength, seed=args.seed)
    elif args.extend is not None:
        take = edits.extend(args.folder, args.shot, args.extend, backward=args.backward, seed=args.seed)
    elif args.regenerate:
        take = edits.regenerate(args.folder, args.shot, seed=args.seed)
    elif args.prompt is not None:
        take = edits.reprompt(args.folder, args.shot, args.prompt, seed=args.seed)
    elif args.trim is not None:
        start, sep, end = args.trim.partition(":")
        try:
            a, b = float(start) if start else 0.0, float(end) if end else None
        except ValueError:
            raise KinoraError(f"--trim {args.trim!r} is not START:END in seconds, e.g. 0.5:3") from None
        if not sep:
            raise KinoraError(f"--trim {args.trim!r} is not START:END in seconds, e.g. 0.5:3")
        take = edits.trim(args.folder, args.shot, a, b)
    else:
        take, rest = edits.split(args.folder, args.shot, args.split)
        print(f"shot {args.shot}: split; the rest is the new shot {rest.id} right after it")
    print(f"shot {args.shot}: new take {take.id} ({take.edit['kind']}, seed {take.seed}), now active")
    return 0


def cmd_use(args) -> int:
    from kinora.timeline.edits import use

    take = use(args.folder, args.shot, args.take)
    print(f"shot {args.shot}: take {take.id} is active")
    return 0


def cmd_add(args) -> int:
    from kinora.timeline.edits import add_shot

    shot = add_shot(args.folder, args.prompt, at=args.at, seconds=args.seconds, seed=args.seed)
    print(f"added shot {shot.id} ({shot.seconds:g} s)")
    return 0


def cmd_delete(args) -> int:
    from kinora.timeline.edits import delete_shot

    shot = delete_shot(args.folder, args.shot)
    print(f"deleted shot {args.shot} ({shot.id}); 'kinora project undo {args.folder}' brings it back")
    return 0


def cmd_move(args) -> int:
    from kinora.timeline.edits import move_shot

    move_shot(args.folder, args.shot, args.to)
    print(f"moved shot {args.shot} to {args.to}")
    return 0


def cmd_undo(args) -> int:
    from kinora.timeline.edits import undo

    rev, back_to = undo(args.folder, args.revision)
    print(f"revision {rev}: the shots and takes of revision {back_to}")
    return 0


def cmd_render(args) -> int:
    from kinora.timeline.render import render

    r = render(args.folder, args.out, force=args.force, resume=args.resume)
    print(f"wrote {r.path} ({r.frames} frames, {len(r.shots)} shots, {r.fps} fps)")
    if args.otio:
        from kinora.timeline.otio import export_otio

        print(f"wrote {export_otio(args.folder, args.otio, force=args.force)}")
    return 0


def cmd_import(args) -> int:
    from kinora.timeline.otio import import_otio

    rev = import_otio(args.folder, args.otio)
    print(f"revision {rev}: the film follows {args.otio}")
    return 0
