/* test_brown.c - `prep --brown`'s conversion of the Brown corpus's word/TAG text (brown.h) against hand-written
 * text: tags stripped at the last '/', the quote tokens `` '' and a lone ' made quotes with the right spacing,
 * punctuation attached, sentences of a paragraph joined, paragraphs separated by a blank line; a token without a
 * tag is an error naming its line; the conversion of a file's documents inside a corpus (brown_convert_tail)
 * leaves earlier documents alone. */
#include <string.h>

#include "brown.h"
#include "check.h"

static void expect(const char *name, const char *in, const char *want) {
    StrBuf b = {0};
    Err e = {{0}};
    int rc = brown_to_text(in, strlen(in), &b, &e);
    CHECK(rc == 0 && !strcmp(sb_str(&b), want), name, "rc %d (%s): got '%s', want '%s'", rc, e.msg, sb_str(&b), want);
    sb_free(&b);
}

static void test_text(void) {
    /* the layout of the package's files: two blank lines, a tab, a sentence per line */
    expect("brown_sentence_quotes_punct", "\n\n\tThe/at jury/nn said/vbd ``/`` yes/rb ''/'' ,/, and/cc left/vbd ./.\n",
           "The jury said \"yes\", and left.");
    expect("brown_paragraph_sentences_joined", "\tThe/at jury/nn left/vbd ./.\nIt/pps was/bedz (/( hot/jj )/) ./.\n",
           "The jury left. It was (hot).");
    expect("brown_paragraphs_blank_line", "\tA/at ./.\n\n\n\tHe/pps said/vbd '/' no/rb '/' --/-- fine/jj ?/.\n",
           "A.\n\nHe said 'no' -- fine?");
    /* the tag is what follows the LAST '/': a word may hold one; hyphenated tags and $ are tags like any */
    expect("brown_last_slash", "\t1/2/cd cup/nn ;/. Atlanta's/np$ term-end/nn-hl \n", "1/2 cup; Atlanta's term-end");
    /* words that start with ' are words: a space before them ("get 'em") */
    expect("brown_apostrophe_words", "\tget/vb 'em/ppo !/.\n", "get 'em!");
    /* single quotes alternate within a paragraph and start closed again in the next */
    expect("brown_single_quotes_reset", "\tsaid/vbd '/' a/at\n\n\t'/' b/nn '/' c/nn\n", "said 'a\n\n'b' c");
    expect("brown_empty", "\n\n\n", "");
    StrBuf b = {0};
    Err e = {{0}};
    const char *bad = "\tgood/jj ./.\n\n\tno_tag here/rb\n";
    int rc = brown_to_text(bad, strlen(bad), &b, &e);
    CHECK(rc == -1 && strstr(e.msg, "line 3") && strstr(e.msg, "no_tag"), "brown_untagged_token_rejected", "rc %d %s",
          rc, e.msg);
    sb_free(&b);
    const char *empty_word = "\t/nn\n";
    rc = brown_to_text(empty_word, strlen(empty_word), &b, &e);
    CHECK(rc == -1 && strstr(e.msg, "line 1"), "brown_empty_word_rejected", "rc %d %s", rc, e.msg);
    sb_free(&b);
}

static void test_tail(void) {
    Corpus c = {0};
    Err e = {{0}};
    corpus_add_doc(&c, "keep/me as is", 13, &e);
    size_t first = c.n_docs;
    const char *f = "\tBrown/np text/nn ./.\n";
    corpus_add_doc(&c, f, strlen(f), &e);
    int rc = brown_convert_tail(&c, first, "cx01", &e);
    int ok = rc == 0 && c.n_docs == 2 && c.off[1] - c.off[0] == 13 && !memcmp(c.buf, "keep/me as is", 13) &&
             c.off[2] - c.off[1] == 11 && !memcmp(c.buf + c.off[1], "Brown text.", 11);
    CHECK(ok, "brown_convert_tail", "rc %d (%s), %zu docs", rc, e.msg, c.n_docs);
    const char *g = "\tuntagged\n";
    corpus_add_doc(&c, g, strlen(g), &e);
    rc = brown_convert_tail(&c, 2, "cx02", &e);
    CHECK(rc == -1 && strstr(e.msg, "cx02: line 1"), "brown_convert_tail_names_file", "rc %d %s", rc, e.msg);
    corpus_free(&c);
}

int main(void) {
    test_text();
    test_tail();
    return check_summary();
}
