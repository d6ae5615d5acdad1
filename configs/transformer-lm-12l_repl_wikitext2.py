"""Transformer-LM-12L-512d-8H-2048ff on WikiText-2 trained with Replacement Learning, the
RepL row of Table X (paper §IV-D1d).

The recipe of ``transformer-lm-12l_wikitext2.py`` with the model switched to
``TransformerLMRepL``, interval K=4 (eq. 16): blocks 4 and 8 of 12 (0-based 3 and 7) become
ViT computing layers (attention-projection branch eq. 20-21 + MLP fusion eq. 25-27, 2
trainable parameters each, eq. 50).

    python tools/train.py configs/transformer-lm-12l_repl_wikitext2.py
    python tools/reparameterize_model.py \\
        configs/transformer-lm-12l_repl_wikitext2.py TRAINED.pth DEPLOY.pth
    python tools/test.py configs/transformer-lm-12l_repl_wikitext2.py DEPLOY.pth \\
        --cfg-options model.deploy=True
"""
_base_ = './transformer-lm-12l_wikitext2.py'

model = dict(type='TransformerLMRepL', interval=4)
