"""VideoCanvas for ComfyUI: complete a video from arbitrary spatio-temporal patches
(in-context conditioning with temporal RoPE interpolation, arXiv 2510.08555).

ComfyUI loads this folder as a custom node pack through `comfy_entrypoint` (V3 nodes). No
NODE_CLASS_MAPPINGS on purpose: ComfyUI 0.3.75 would then ignore the entrypoint. The nodes are
imported when ComfyUI asks for them, so importing this package alone (tools, test collectors)
does not pull in ComfyUI.
"""


# Node help pages (web/docs/<NodeId>.md) and JS: ComfyUI serves this folder at /extensions/<pack folder
# name>/, the name the frontends derive from python_module. Not pyproject's [tool.comfy] web: that also
# registers it under the project name, and the frontend would import each JS file twice and refuse the
# second registration of the same extension.
WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .vc_nodes import VideoCanvasExtension

    return VideoCanvasExtension()


__all__ = ["comfy_entrypoint"]
