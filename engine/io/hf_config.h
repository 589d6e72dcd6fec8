/* hf_config.h - the Hugging Face config.json of a LLaMA model directory (beside model.safetensors).
 *
 * Write: a LlamaConfig (model_type llama, architectures [LlamaForCausalLM], no biases, untied
 * lm_head, rope_scaling null) with every shape of c; doubles printed so they read back to the same
 * bits. Read: the required shape keys (hidden_size, intermediate_size, num_attention_heads,
 * num_hidden_layers, vocab_size), the optional ones with Hugging Face's defaults; a key whose value
 * names something the model does not implement (grouped-query attention, tied embeddings, biases,
 * another activation or model type, rope scaling) is an error naming the file and the key. */
#ifndef HF_CONFIG_H
#define HF_CONFIG_H

#include "common.h"
#include "model.h"

int hf_config_write(const char *path, const ModelConfig *c, Err *e);
/* The same with torch_dtype naming model.safetensors' tensor type ("float32" or "bfloat16"). */
int hf_config_write_dtype(const char *path, const ModelConfig *c, const char *torch_dtype, Err *e);
int hf_config_read(const char *path, ModelConfig *c, Err *e);

#endif
