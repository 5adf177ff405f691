// Print llama.cpp's raw logits for a token list, as float32 rows, so check_logits.py can compare
// them with our engine. Written against llama.h (public API only); compiled and linked to the
// libllama that build_llama_cpp.sh built. The server's n_probs gives only softmaxed top-k; this
// gives every logit at every position.
//
// usage: dump_logits MODEL.gguf OUT.f32 seq|step TOKEN...
//   seq:  one llama_decode over the whole list (the parallel/chunked form), logits at every position
//   step: one llama_decode per token (the recurrent form), logits after each
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

int main(int argc, char ** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.gguf OUT.f32 seq|step TOKEN...\n", argv[0]);
        return 2;
    }
    const int n = argc - 4;
    const int step = strcmp(argv[3], "step") == 0;
    llama_token * tokens = malloc(sizeof(llama_token) * n);
    for (int i = 0; i < n; i++) tokens[i] = atoi(argv[4 + i]);

    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n < 512 ? 512 : n;
    cp.n_batch = cp.n_ubatch = cp.n_ctx;
    cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = 2;
    struct llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "cannot make a context\n"); return 1; }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    FILE * out = fopen(argv[2], "wb");
    struct llama_batch batch = llama_batch_init(n, 0, 1);
    for (int start = 0; start < n; start += step ? 1 : n) {
        const int len = step ? 1 : n;
        batch.n_tokens = len;
        for (int i = 0; i < len; i++) {
            batch.token[i] = tokens[start + i];
            batch.pos[i] = start + i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = 1;
        }
        if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "llama_decode failed\n"); return 1; }
        for (int i = 0; i < len; i++) fwrite(llama_get_logits_ith(ctx, i), sizeof(float), n_vocab, out);
    }
    fclose(out);
    printf("%d %d\n", n, n_vocab);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    free(tokens);
    return 0;
}
