"""Host tests: ComfyUI on the path (its modules are imported inside the tests), and the models and
modules several test files use."""

from __future__ import annotations

import pytest
import torch

from helpers import load
from hostkit.inprocess import add_comfy_to_path

add_comfy_to_path()


@pytest.fixture(scope="module")
def n(pack):
    """The pack's nodes package, as ComfyUI loaded it."""
    return pack.vc_nodes


@pytest.fixture(scope="module")
def mp(pack):
    """The model patch, as ComfyUI loaded it."""
    return pack.vc_nodes.model_patch


@pytest.fixture(scope="module")
def t2v(checkpoints):
    """The tiny Wan 2.1 T2V checkpoint through ComfyUI's loader, in the dtype ComfyUI picks."""
    return load(checkpoints["wan21_t2v_tiny"])


@pytest.fixture(scope="module")
def t2v_float32(checkpoints):
    """The same in float32, for float32-tight checks: on a GPU ComfyUI picks half precision by
    default (on the CPU float32 is its default anyway)."""
    return load(checkpoints["wan21_t2v_tiny"], dtype=torch.float32)


@pytest.fixture(scope="module")
def vae(comfy, checkpoints):
    """The tiny Wan 2.1 VAE checkpoint through ComfyUI's VAE class."""
    import comfy.sd
    import comfy.utils
    import folder_paths

    return comfy.sd.VAE(sd=comfy.utils.load_torch_file(
        folder_paths.get_full_path_or_raise("vae", checkpoints["wan21_vae_tiny"])))


@pytest.fixture(scope="module")
def wan():
    """A tiny random Wan DiT module (2 heads of 128, as Wan's own head size; 2 blocks), no loader."""
    from hostkit.tiny_models import TinyWan

    return TinyWan(dim=256, num_layers=2).build(seed=0)


@pytest.fixture(scope="module")
def ltxv(checkpoints):
    """The tiny LTX-Video 0.9.x transformer through ComfyUI's loader, float32 (exact comparisons)."""
    return load(checkpoints["ltxv_tiny"], dtype=torch.float32)


@pytest.fixture(scope="module")
def ltxv_vae(comfy, checkpoints):
    """The tiny LTXV VAE through comfy.sd.VAE with its file's metadata (the config of its blocks)."""
    import comfy.sd
    import comfy.utils
    import folder_paths

    path = folder_paths.get_full_path_or_raise("vae", checkpoints["ltxv_vae_tiny"])
    sd, metadata = comfy.utils.load_torch_file(path, return_metadata=True)
    return comfy.sd.VAE(sd=sd, metadata=metadata)
