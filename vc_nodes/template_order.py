"""The pack's templates listed in their numbered order.

ComfyUI's GET /workflow_templates lists a pack's example_workflows/*.json in the order the file system
returns them (glob), and the frontends 1.32.9 / 1.35.9 keep that order for custom-node templates
under their default sorts ("Newest", "Default": such templates have no date); so the pack sorts its
own entry of that answer by task number, each task's templates for the bundled toy models first, the
others by name ("VideoCanvas 01 ... (Toy model)", "VideoCanvas 01 ... (LTX-Video 2B)", "VideoCanvas
01 ... (Wan 2.1 1.3B)", "VideoCanvas 02 ..."), through an aiohttp middleware on ComfyUI's server.
Other packs' entries are left as they are.
"""

import json
import logging
from pathlib import Path

from aiohttp import web

# The key ComfyUI lists our templates under: the pack's folder name in custom_nodes (not resolved:
# that folder may be a link to a checkout of another name).
PACK = Path(__file__).parent.parent.name
PATHS = ("/workflow_templates", "/api/workflow_templates")
BUNDLED_LABEL = "(Toy model"  # the suffix of the templates that run as shipped on the bundled models


def listing_order(name: str) -> tuple:
    """'VideoCanvas NN ...': by NN, the bundled-model templates first, then by name."""
    return name[:len("VideoCanvas NN")], BUNDLED_LABEL not in name, name


@web.middleware
async def sort_our_templates(request, handler):
    response = await handler(request)
    if request.path not in PATHS or not isinstance(response, web.Response) or response.status != 200:
        return response
    try:
        listing = json.loads(response.body)
    except (TypeError, ValueError):
        return response
    if isinstance(listing, dict) and isinstance(listing.get(PACK), list):
        listing[PACK] = sorted(listing[PACK], key=listing_order)
        return web.json_response(listing)
    return response


def install() -> bool:
    """Add the middleware to ComfyUI's server, if one is being set up (not in a bare executor)."""
    try:
        from server import PromptServer

        app = PromptServer.instance.app
        if sort_our_templates not in app.middlewares:
            app.middlewares.append(sort_our_templates)
        return True
    except (ImportError, AttributeError, RuntimeError) as err:  # no server, or one already running
        logging.debug("VideoCanvas: templates keep the server's order (%s)", err)
        return False
