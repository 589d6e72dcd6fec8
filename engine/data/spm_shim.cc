// spm_shim.cc - the C interface of spm.h over libsentencepiece's C++ SentencePieceProcessor.
// Compiled with g++ and linked with -lsentencepiece -lstdc++. No exception crosses into C: the
// library reports through util::Status, and allocation failures are caught here.
#include "spm.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct SpmModel {
    sentencepiece::SentencePieceProcessor sp;
};

static void set_err(char *err, size_t cap, const std::string &msg) {
    if (err && cap) std::snprintf(err, cap, "%s", msg.c_str());
}

extern "C" SpmModel *spm_load(const char *path, char *err, size_t cap) {
    try {
        SpmModel *m = new SpmModel;
        const auto st = m->sp.Load(path);
        if (!st.ok()) {
            set_err(err, cap, std::string(path) + ": not a SentencePiece model (" + st.ToString() + ")");
            delete m;
            return nullptr;
        }
        return m;
    } catch (const std::exception &ex) {
        set_err(err, cap, std::string(path) + ": " + ex.what());
        return nullptr;
    }
}

extern "C" void spm_free(SpmModel *m) { delete m; }
extern "C" int spm_vocab_size(const SpmModel *m) { return m->sp.GetPieceSize(); }
extern "C" int spm_eos_id(const SpmModel *m) { return m->sp.eos_id(); }
extern "C" int spm_pad_id(const SpmModel *m) { return m->sp.pad_id(); }
extern "C" int spm_unk_id(const SpmModel *m) { return m->sp.unk_id(); }

extern "C" int spm_encode_ids(SpmModel *m, const char *text, size_t len, uint32_t **ids, size_t *n, char *err,
                              size_t cap) {
    *ids = nullptr;
    *n = 0;
    try {
        std::vector<int> v;
        const auto st = m->sp.Encode(std::string(text, len), &v);
        if (!st.ok()) {
            set_err(err, cap, "SentencePiece encode failed: " + st.ToString());
            return -1;
        }
        uint32_t *out = static_cast<uint32_t *>(std::malloc((v.size() ? v.size() : 1) * sizeof(uint32_t)));
        if (!out) {
            set_err(err, cap, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < v.size(); i++) out[i] = static_cast<uint32_t>(v[i]);
        *ids = out;
        *n = v.size();
        return 0;
    } catch (const std::exception &ex) {
        set_err(err, cap, std::string("SentencePiece: ") + ex.what());
        return -1;
    }
}
