"""Kinora Studio: the browser surface (Gradio) over the library; `kinora studio` starts it (kinora.studio.app)."""
