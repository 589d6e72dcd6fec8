/* hf_config.c - the Hugging Face config.json (hf_config.h). */
#include "hf_config.h"
#include "json.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

int hf_config_write_dtype(const char *path, const ModelConfig *c, const char *torch_dtype, Err *e) {
    StrBuf b = {0};
    char d1[32], d2[32], d3[32];
    sb_printf(&b,
              "{\n"
              "  \"architectures\": [\"LlamaForCausalLM\"],\n"
              "  \"model_type\": \"llama\",\n"
              "  \"hidden_size\": %d,\n"
              "  \"intermediate_size\": %d,\n"
              "  \"num_attention_heads\": %d,\n"
              "  \"num_key_value_heads\": %d,\n"
              "  \"num_hidden_layers\": %d,\n"
              "  \"head_dim\": %d,\n"
              "  \"vocab_size\": %d,\n"
              "  \"max_position_embeddings\": %d,\n"
              "  \"rms_norm_eps\": %s,\n"
              "  \"rope_theta\": %s,\n"
              "  \"rope_scaling\": null,\n"
              "  \"initializer_range\": %s,\n"
              "  \"hidden_act\": \"silu\",\n"
              "  \"attention_bias\": false,\n"
              "  \"mlp_bias\": false,\n"
              "  \"tie_word_embeddings\": false,\n"
              "  \"torch_dtype\": \"%s\",\n"
              "  \"use_cache\": true\n"
              "}\n",
              c->hidden_size, c->intermediate_size, c->num_attention_heads, c->num_attention_heads,
              c->num_hidden_layers, c->num_attention_heads > 0 ? c->hidden_size / c->num_attention_heads : 0,
              c->vocab_size, c->max_position_embeddings, json_fmt_double(d1, c->rms_norm_eps),
              json_fmt_double(d2, c->rope_theta), json_fmt_double(d3, c->initializer_range), torch_dtype);
    int rc = write_file_atomic(path, b.p, b.len, e);
    sb_free(&b);
    return rc;
}

int hf_config_write(const char *path, const ModelConfig *c, Err *e) {
    return hf_config_write_dtype(path, c, "float32", e);
}

/* A required positive integer key. */
static int cfg_int(const Json *j, const char *path, const char *key, int *out, Err *e) {
    const Json *v = json_get(j, key);
    int64_t x;
    if (!v) return err_set(e, "%s: missing key \"%s\"", path, key);
    if (v->type != JSON_NUM || json_i64(v, &x) || x <= 0 || x > INT32_MAX)
        return err_set(e, "%s: \"%s\" must be a positive integer", path, key);
    *out = (int)x;
    return 0;
}

/* An optional positive number: keeps *out (the Hugging Face default) when absent. */
static int cfg_num(const Json *j, const char *path, const char *key, double *out, Err *e) {
    const Json *v = json_get(j, key);
    if (!v) return 0;
    if (v->type != JSON_NUM || !(v->num > 0) || !isfinite(v->num))
        return err_set(e, "%s: \"%s\" must be a positive number", path, key);
    *out = v->num;
    return 0;
}

/* Keys that, if present, must have the value our model implements. */
static int cfg_check(const Json *j, const char *path, Err *e) {
    const char *s;
    if ((s = json_str(j, "model_type")) && strcmp(s, "llama"))
        return err_set(e, "%s: model_type \"%s\" is not supported (llama only)", path, s);
    if (json_get(j, "model_type") && !s) return err_set(e, "%s: \"model_type\" must be a string", path);
    const Json *arch = json_get(j, "architectures");
    if (arch) {
        int ok = arch->type == JSON_ARR && json_len(arch) >= 1;
        for (int i = 0; ok && i < json_len(arch); i++)
            ok = json_at(arch, i)->type == JSON_STR && !strcmp(json_at(arch, i)->str, "LlamaForCausalLM");
        if (!ok) return err_set(e, "%s: \"architectures\" must be [\"LlamaForCausalLM\"]", path);
    }
    if ((s = json_str(j, "hidden_act")) && strcmp(s, "silu"))
        return err_set(e, "%s: hidden_act \"%s\" is not supported (silu only)", path, s);
    int b;
    if (json_get(j, "tie_word_embeddings") && (json_bool(j, "tie_word_embeddings", &b) || b))
        return err_set(e, "%s: tie_word_embeddings must be false (the model has an untied lm_head)", path);
    if (json_get(j, "attention_bias") && (json_bool(j, "attention_bias", &b) || b))
        return err_set(e, "%s: attention_bias must be false (the model has no biases)", path);
    if (json_get(j, "mlp_bias") && (json_bool(j, "mlp_bias", &b) || b))
        return err_set(e, "%s: mlp_bias must be false (the model has no biases)", path);
    const Json *rs = json_get(j, "rope_scaling");
    if (rs && rs->type != JSON_NULL) return err_set(e, "%s: rope_scaling is not supported (must be null)", path);
    return 0;
}

int hf_config_read(const char *path, ModelConfig *c, Err *e) {
    Json *j;
    if (json_parse_file(path, &j, e)) return -1;
    ModelConfig r = {0};
    /* Hugging Face LlamaConfig defaults for the optional keys. */
    r.max_position_embeddings = 2048;
    r.rms_norm_eps = 1e-6;
    r.rope_theta = 10000.0;
    r.initializer_range = 0.02;
    int rc = -1, kv = 0;
    if (j->type != JSON_OBJ) {
        err_set(e, "%s: not a JSON object", path);
        goto done;
    }
    if (cfg_check(j, path, e)) goto done;
    if (cfg_int(j, path, "hidden_size", &r.hidden_size, e) ||
        cfg_int(j, path, "intermediate_size", &r.intermediate_size, e) ||
        cfg_int(j, path, "num_attention_heads", &r.num_attention_heads, e) ||
        cfg_int(j, path, "num_hidden_layers", &r.num_hidden_layers, e) ||
        cfg_int(j, path, "vocab_size", &r.vocab_size, e))
        goto done;
    if (json_get(j, "max_position_embeddings") &&
        cfg_int(j, path, "max_position_embeddings", &r.max_position_embeddings, e))
        goto done;
    if (json_get(j, "num_key_value_heads")) {
        if (cfg_int(j, path, "num_key_value_heads", &kv, e)) goto done;
        if (kv != r.num_attention_heads) {
            err_set(e,
                    "%s: num_key_value_heads %d != num_attention_heads %d (grouped-query attention is not supported)",
                    path, kv, r.num_attention_heads);
            goto done;
        }
    }
    if (r.hidden_size % r.num_attention_heads) {
        err_set(e, "%s: num_attention_heads %d does not divide hidden_size %d", path, r.num_attention_heads,
                r.hidden_size);
        goto done;
    }
    if (json_get(j, "head_dim")) {
        int hd = 0;
        if (json_get(j, "head_dim")->type != JSON_NULL) {
            if (cfg_int(j, path, "head_dim", &hd, e)) goto done;
            if (hd != r.hidden_size / r.num_attention_heads) {
                err_set(e, "%s: head_dim %d != hidden_size / num_attention_heads = %d", path, hd,
                        r.hidden_size / r.num_attention_heads);
                goto done;
            }
        }
    }
    if (cfg_num(j, path, "rms_norm_eps", &r.rms_norm_eps, e) || cfg_num(j, path, "rope_theta", &r.rope_theta, e) ||
        cfg_num(j, path, "initializer_range", &r.initializer_range, e))
        goto done;
    *c = r;
    rc = 0;
done:
    json_free(j);
    return rc;
}
