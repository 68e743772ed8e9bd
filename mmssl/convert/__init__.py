"""Released weights of published models → mmssl checkpoint directories (weights, config,
tokenizer), which ``mmssl eval`` scores and ``mmssl train`` can start from.

    mmssl convert milnce --weights s3d_howto100m.pth --dict s3d_dict.npy --out CKPT
    mmssl convert avlnet --weights AVLnet_Text_Tri_release.pth --word-vectors W2V.txt \\
        --video-encoder NAME --out CKPT
    mmssl convert clip --hf-dir CLIP_DIR --out CKPT

Each converter maps every released weight to its place (:mod:`mmssl.convert.released`:
nothing left over, nothing missing, every shape checked) and writes the config the
published evaluation needs (input size, normalisation, scoring, retrieval protocol).
"""

from __future__ import annotations

import argparse

from mmssl.convert.avlnet import convert_avlnet
from mmssl.convert.clip import convert_clip
from mmssl.convert.milnce import convert_milnce

__all__ = ["convert_avlnet", "convert_clip", "convert_milnce", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmssl convert", description="Turn a published "
                                     "model's released weights into an mmssl checkpoint.")
    models = parser.add_subparsers(dest="model", required=True)
    milnce = models.add_parser("milnce", help="MIL-NCE's S3D-G + text (S3D_HowTo100M)")
    milnce.add_argument("--weights", required=True, help="s3d_howto100m.pth")
    milnce.add_argument("--dict", required=True, help="s3d_dict.npy (the word list)")
    avlnet = models.add_parser("avlnet", help="AVLnet / AVLnet-Text-Tri (roudimit/AVLnet)")
    avlnet.add_argument("--weights", required=True, help="AVLnet_*_release.pth")
    avlnet.add_argument("--video-encoder", required=True,
                        help="registered video encoder giving AVLnet's video features "
                             "(its out_dim must be GU_video's input size)")
    avlnet.add_argument("--word-vectors", help="word2vec/GloVe text file (AVLnet-Text: its "
                        "vocabulary and frozen vectors)")
    clip = models.add_parser("clip", help="a local HuggingFace CLIP (CLIP4Clip's meanP)")
    clip.add_argument("--hf-dir", required=True, help="save_pretrained directory of a CLIP")
    for sub in (milnce, avlnet, clip):
        sub.add_argument("--out", required=True, help="checkpoint directory to write")
    return parser


def main(argv: list[str]) -> str:
    """``mmssl convert MODEL ...``; prints and returns the checkpoint directory."""
    args = _parser().parse_args(argv)
    if args.model == "milnce":
        out = convert_milnce(args.weights, args.dict, args.out)
    elif args.model == "avlnet":
        out = convert_avlnet(args.weights, args.video_encoder, args.out, args.word_vectors)
    else:
        out = convert_clip(args.hf_dir, args.out)
    print(f"checkpoint: {out}")
    return str(out)
