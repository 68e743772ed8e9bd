"""The parameter names and shapes of the released checkpoints, as their public code builds
them, written out here as data (read from that code, not produced by mmssl's modules), and
random state dicts in those layouts.

- MIL-NCE ``s3d_howto100m.pth``: S3D_HowTo100M's ``s3dg.py`` (``S3D(dict_path, 512)`` with
  the space-to-depth stem): the stem's ``STConv3D``s and ``SelfGating``, nine gated
  Inception blocks, ``fc`` 1024 → 512, and ``text_module`` (``word_embd`` 66250 × 300,
  ``fc1`` 300 → 2048, ``fc2`` 2048 → 512).
- AVLnet-Text-Tri: roudimit/AVLnet's ``model.py`` (``Net(embd_dim, video_dim, we_dim=300,
  tri_modal=True)``) and ``model_davenet.py`` (``ResDavenet``, widths 128/128/256/512/1024,
  two ``SpeechBasicBlock``s per layer, 1×9 kernels, 40 mels).
"""

import torch

# (name, input channels, b0, b1a, b1b, b2a, b2b, b3b): the InceptionBlock(...) calls.
S3DG_BLOCKS = (
    ("mixed_3b", 192, 64, 96, 128, 16, 32, 32),
    ("mixed_3c", 256, 128, 128, 192, 32, 96, 64),
    ("mixed_4b", 480, 192, 96, 208, 16, 48, 64),
    ("mixed_4c", 512, 160, 112, 224, 24, 64, 64),
    ("mixed_4d", 512, 128, 128, 256, 24, 64, 64),
    ("mixed_4e", 512, 112, 144, 288, 32, 64, 64),
    ("mixed_4f", 528, 256, 160, 320, 32, 128, 128),
    ("mixed_5b", 832, 256, 160, 320, 32, 128, 128),
    ("mixed_5c", 832, 384, 192, 384, 48, 128, 128),
)
MILNCE_VOCAB, MILNCE_WORD_DIM, MILNCE_TEXT_WIDTH, MILNCE_DIM = 66250, 300, 2048, 512


def batch_norm(name: str, channels: int) -> dict:
    return {f"{name}.weight": (channels,), f"{name}.bias": (channels,),
            f"{name}.running_mean": (channels,), f"{name}.running_var": (channels,),
            f"{name}.num_batches_tracked": ()}


def linear(name: str, c_in: int, c_out: int, bias: bool = True) -> dict:
    return {f"{name}.weight": (c_out, c_in), **({f"{name}.bias": (c_out,)} if bias else {})}


def st_conv(name: str, c_in: int, c_out: int, kernel: tuple, separable: bool = False) -> dict:
    """STConv3D: conv1/bn1, and for a separable k×k×k kernel conv1 1×k×k, conv2 k×1×1."""
    if not separable:
        return {f"{name}.conv1.weight": (c_out, c_in, *kernel),
                **batch_norm(f"{name}.bn1", c_out)}
    k = kernel[0]
    return {f"{name}.conv1.weight": (c_out, c_in, 1, k, k), **batch_norm(f"{name}.bn1", c_out),
            f"{name}.conv2.weight": (c_out, c_out, k, 1, 1), **batch_norm(f"{name}.bn2", c_out)}


def s3dg_video_layout() -> dict[str, tuple]:
    """The released video network's names and shapes (no ``fc``, no ``text_module``)."""
    layout = {**st_conv("conv1", 24, 64, (2, 4, 4)), **st_conv("conv_2b", 64, 64, (1, 1, 1)),
              **st_conv("conv_2c", 64, 192, (3, 3, 3), separable=True),
              **linear("gating.fc", 192, 192)}
    for name, c_in, b0, b1a, b1b, b2a, b2b, b3b in S3DG_BLOCKS:
        layout.update({
            **st_conv(f"{name}.conv_b0", c_in, b0, (1, 1, 1)),
            **st_conv(f"{name}.conv_b1_a", c_in, b1a, (1, 1, 1)),
            **st_conv(f"{name}.conv_b1_b", b1a, b1b, (3, 3, 3), separable=True),
            **st_conv(f"{name}.conv_b2_a", c_in, b2a, (1, 1, 1)),
            **st_conv(f"{name}.conv_b2_b", b2a, b2b, (3, 3, 3), separable=True),
            **st_conv(f"{name}.conv_b3_b", c_in, b3b, (1, 1, 1)),
            **{key: shape for i, c in enumerate((b0, b1b, b2b, b3b))
               for key, shape in linear(f"{name}.gating_b{i}.fc", c, c).items()},
        })
    return layout


def milnce_layout() -> dict[str, tuple]:
    """All of ``s3d_howto100m.pth``: the video network, ``fc`` and ``text_module``."""
    return {**s3dg_video_layout(), **linear("fc", 1024, MILNCE_DIM),
            "text_module.word_embd.weight": (MILNCE_VOCAB, MILNCE_WORD_DIM),
            **linear("text_module.fc1", MILNCE_WORD_DIM, MILNCE_TEXT_WIDTH),
            **linear("text_module.fc2", MILNCE_TEXT_WIDTH, MILNCE_DIM)}


RESDAVENET_WIDTHS = (128, 128, 256, 512, 1024)


def resdavenet_layout(prefix: str = "") -> dict[str, tuple]:
    """ResDavenet(feat_dim=40): batchnorm1, conv1 (40×1), bn1, layer1..4 of 2 blocks."""
    layout = {**batch_norm(f"{prefix}batchnorm1", 1),
              f"{prefix}conv1.weight": (128, 1, 40, 1), **batch_norm(f"{prefix}bn1", 128)}
    c_in = RESDAVENET_WIDTHS[0]
    for layer, c_out in enumerate(RESDAVENET_WIDTHS[1:], start=1):
        for block in range(2):
            name = f"{prefix}layer{layer}.{block}"
            first_in = c_in if block == 0 else c_out
            layout.update({f"{name}.conv1.weight": (c_out, first_in, 1, 9),
                           **batch_norm(f"{name}.bn1", c_out),
                           f"{name}.conv2.weight": (c_out, c_out, 1, 9),
                           **batch_norm(f"{name}.bn2", c_out)})
            if block == 0:  # stride 2: a 1×1 convolution and BatchNorm on the shortcut
                layout.update({f"{name}.downsample.0.weight": (c_out, c_in, 1, 1),
                               **batch_norm(f"{name}.downsample.1", c_out)})
        c_in = c_out
    return layout


def gated_unit(name: str, c_in: int, c_out: int) -> dict:
    """Gated_Embedding_Unit: fc, then Context_Gating's fc."""
    return {**linear(f"{name}.fc", c_in, c_out), **linear(f"{name}.cg.fc", c_out, c_out)}


def avlnet_tri_layout(embd_dim: int, video_dim: int = 4096, we_dim: int = 300) -> dict:
    """Net(embd_dim, video_dim, we_dim, tri_modal=True): AVLnet-Text-Tri (6144, 4096)."""
    return {**resdavenet_layout("DAVEnet."), **linear("DAVEnet_projection", 1024, embd_dim),
            **gated_unit("GU_audio", 1024, 1024), **gated_unit("GU_video", video_dim, embd_dim),
            **linear("text_pooling_caption.fc", we_dim, embd_dim),
            **gated_unit("GU_text_captions", embd_dim, embd_dim)}


def random_state(layout: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors of ``layout`` (BatchNorm variances positive, batch counters long)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=g) / fan_in ** 0.5
    return state


def assert_in_place(released: dict, converted: dict, places: dict[str, str],
                    rest: str | None = None) -> None:
    """Every released tensor equals the converted one at its place: the first prefix of
    ``places`` it starts with replaced by that prefix's target, else ``rest`` prepended."""
    for key, value in released.items():
        prefix = next((p for p in places if key.startswith(p)), None)
        assert prefix is not None or rest is not None, f"{key}: no place"
        target = places[prefix] + key[len(prefix):] if prefix is not None else rest + key
        assert torch.equal(converted[target], value), key
