"""Transformer-LM-12L-512d-8H-2048ff on WikiText-2, the end-to-end (E2E) row of Table X
(paper §IV-D1d). The RepL twin is ``transformer-lm-12l_repl_wikitext2.py``.

Recipe (§IV-D1d, Table X): basic English tokenization, words with frequency >= 2 kept,
``<eos>`` after each line, BPTT length 128, batch 64, AdamW lr 3e-4, weight decay 0.01,
gradient clipping 1.0, fp16, 20 epochs (5 seeds in the paper: ``randomness.seed``).
Choices the paper leaves open are listed in docs/language_model.md (constant learning rate,
dropout 0.1, untied output layer, sinusoidal positions, unshuffled classic BPTT batches,
validation/test on 10 streams).

Data root: WIKITEXT2_ROOT=/path/to/wikitext-2 (environment; default data/wikitext-2), the
folder holding wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens.

    python tools/train.py configs/transformer-lm-12l_wikitext2.py
    python tools/test.py configs/transformer-lm-12l_wikitext2.py work_dirs/.../best_*.pth

fp16: ``AmpOptimWrapper`` (mmengine) needs a GPU; on a CPU-only machine train in fp32 with
``--cfg-options optim_wrapper.type=OptimWrapper``.
"""
custom_imports = dict(imports=['repl_mm', 'repl_mm.adapters.mmpretrain_lm'],
                      allow_failed_imports=False)
default_scope = 'mmpretrain'

data_root = '{{$WIKITEXT2_ROOT:data/wikitext-2}}'
seq_len = 128        # BPTT length
batch_size = 64      # = the number of training streams (classic batchify)
eval_streams = 10    # validation/test streams and batch (PyTorch's word-LM example)
min_freq = 2

model = dict(
    type='TransformerLM',
    vocab_from=data_root + '/wiki.train.tokens',  # the vocabulary sizes the model
    min_freq=min_freq,
    # without the data (plan.py, benchmarks: shapes only) the model is built with this V:
    # the classic WikiText-2 word-vocabulary size that docs/language_model.md's figures use,
    # NOT measured with this tokenizer here (no data on this machine); a model built with it
    # is checked against the data by VocabularyCheckHook before it trains or evaluates
    vocab_size_without_data=33278,
    embed_dims=512,
    num_layers=12,
    num_heads=8,
    feedforward_channels=2048,
    max_len=seq_len,
    drop_rate=0.1,
    tie_weights=False)

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='WikiText2', data_root=data_root, split='train', seq_len=seq_len,
                 num_streams=batch_size, min_freq=min_freq))
val_dataloader = dict(
    batch_size=eval_streams,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='WikiText2', data_root=data_root, split='valid', seq_len=seq_len,
                 num_streams=eval_streams, min_freq=min_freq))
test_dataloader = dict(val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = dict(type='Perplexity')
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='AmpOptimWrapper',  # fp16 autocast + dynamic loss scaling (GPU)
    optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.01, betas=(0.9, 0.999), eps=1e-8),
    clip_grad=dict(max_norm=1.0))
param_scheduler = []  # constant learning rate: the paper names no schedule
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # the last three epochs (resume) plus the best by validation perplexity
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='lm/perplexity', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# refuses a checkpoint / model whose vocabulary differs from the data's
custom_hooks = [dict(type='VocabularyCheckHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
