"""VideoCanvas for ComfyUI: complete a video from arbitrary spatio-temporal patches
(in-context conditioning with temporal RoPE interpolation, arXiv 2510.08555).

ComfyUI loads this folder as a custom node pack through `comfy_entrypoint` (V3 nodes). No
NODE_CLASS_MAPPINGS on purpose: ComfyUI 0.3.75 would then ignore the entrypoint. The nodes are
imported when ComfyUI asks for them, so importing this package alone (tools, test collectors)
does not pull in ComfyUI.
"""


async def comfy_entrypoint():
    from .nodes import VideoCanvasExtension

    return VideoCanvasExtension()


__all__ = ["comfy_entrypoint"]
