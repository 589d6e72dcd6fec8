#!/usr/bin/perl
# prose.pl - keeps the report's prose honest (docs/analysis.md, "Numbers and claims in prose").
#
#   prose.pl check GENERATED_DIR FILE...     every number in FILE's prose is cited, not typed:
#       \val{SPEC.NAME}  a number from GENERATED_DIR/numbers.md (written by `alphadecay report all`)
#       \claimed{SPEC.NAME}  the claim backing a comparative sentence (GENERATED_DIR/claims.md: must hold)
#       \given{...}  a value chosen, not measured (a setting, a constant of the method, the paper's text)
#     and \ref / \label / \texttt / \input / file names / subscripts carry no results. Fails, naming
#     FILE:LINE, on a bare digit, an undefined number or claim, a claim that does not hold, and a
#     comparative sentence (beats, better, worse, lower than, excludes zero, ...) without \claimed.
#   prose.pl fill GENERATED_DIR TEMPLATE      TEMPLATE with every \val replaced by its value, \claimed
#       checked and dropped, \given{x} replaced by x (the README's results section: Markdown has no macros)
#   prose.pl splice GENERATED_DIR TEMPLATE FILE   replaces FILE's text between the markers
#       "<!-- BEGIN generated: TEMPLATE" ... "<!-- END generated -->" with `fill`'s output
# Exit 1 with one line per problem.
use strict;
use warnings;

my ($cmd, $gen, @files) = @ARGV;
die "usage: prose.pl check|fill|splice GENERATED_DIR FILE...\n" unless $cmd && $gen && @files;

my (%val, %claim);
sub load {
    my ($f, $h, $col) = @_;
    open(my $fh, '<', $f) or die "prose.pl: $f: $!\n";
    while (<$fh>) {
        next unless /^\| `([^`]+)` \| (.*?) \|/;
        $h->{$1} = $2;
    }
}
load("$gen/numbers.md", \%val);
load("$gen/claims.md", \%claim);

my $bad = 0;
sub problem { print STDERR "$_[0]\n"; $bad++; }

# balanced {...} after position p of s (p at '{'): returns the index after the closing brace
sub close_brace {
    my ($s, $p) = @_;
    my $d = 0;
    for (my $i = $p; $i < length $s; $i++) {
        my $c = substr($s, $i, 1);
        $d++ if $c eq '{';
        $d-- if $c eq '}';
        return $i + 1 if $d == 0;
    }
    return length $s;
}

# "below" / "above" count when they compare ("ends below WD=0", "above zero"), not when they point ("the
# text below", "above one")
my $COMPARATIVE = qr/\b(beats?|beating|better|worse|lower than|higher than|(?:below|above)(?=\s+(?:[A-Z\$\\]|the default|the paper|zero|every|it\b|that\b|them\b))|excludes? zero|lowest|highest|ranks?|outperforms?|smaller than|larger than|more than|less than|fewer than)\b/;

sub check_file {
    my ($f) = @_;
    open(my $fh, '<', $f) or die "prose.pl: $f: $!\n";
    my @lines = <$fh>;
    close $fh;
    my $tex = $f =~ /\.tex$/;
    my ($in_doc, $sentence, $sline, $has_claim, $in_comment) = (!$tex || $f !~ /main\.tex$/, '', 0, 0, 0);
    for my $n (0 .. $#lines) {
        my $l = $lines[$n];
        my $at = "$f:" . ($n + 1);
        if ($tex) {
            $l =~ s/(?<!\\)%.*//;            # comments
            $in_doc = 1 if $l =~ /\\begin\{document\}/;
            $in_doc = 0 if $l =~ /\\end\{document\}/;
            next unless $in_doc;
        } else {                              # Markdown: HTML comments, also over several lines
            $l =~ s/<!--.*?-->//g;
            if ($in_comment) { if ($l =~ s/^.*?-->//) { $in_comment = 0 } else { next } }
            if ($l =~ s/<!--.*//) { $in_comment = 1 }
        }
        for my $m ($l =~ /\\val\{([^}]*)\}/g) { problem("$at: \\val{$m} is not in $gen/numbers.md") unless exists $val{$m} }
        for my $m ($l =~ /\\claimed\{([^}]*)\}/g) {
            if (!exists $claim{$m}) { problem("$at: \\claimed{$m} is not in $gen/claims.md") }
            elsif ($claim{$m} ne 'yes') { problem("$at: claim $m does not hold (see $gen/claims.md)") }
        }
        # strip what carries no results, then look for digits
        my $s = $l;
        for my $macro (qw(val claimed given ptab pfig ref label texttt input IfFileExists gentable genfig gentableopt genfigopt url href eqref cite includegraphics)) {
            while ((my $p = index($s, "\\$macro\{")) >= 0) {
                my $e = close_brace($s, $p + length($macro) + 1);
                substr($s, $p, $e - $p) = ' ';
            }
        }
        $s =~ s/\bWD=0\b//g;                         # the method's name
        $s =~ s/`[^`]*`//g;                          # Markdown code
        $s =~ s/\]\([^)]*\)/]/g;                     # Markdown link targets
        $s =~ s/[A-Za-z]_\{?[0-9a-z]+\}?//g;          # subscripts: s_1, L_2, \alpha_{\min}
        $s =~ s/\b[A-Za-z][A-Za-z]*[0-9][A-Za-z0-9_.\/-]*//g;   # names with digits: fig1b, C4, A100, s2
        $s =~ s/\b[a-z_]+[0-9]+\b//g;
        if ($s =~ /([0-9][0-9.,]*)/) { problem("$at: typed number \"$1\" in prose (cite \\val{...}, or mark a setting \\given{...}): " . substr($l, 0, 100)) }
        # comparative sentences need a claim
        my $t = $l;
        chomp $t;
        $sline = $n + 1 if $sentence eq '';
        $sentence .= " $t";
        $has_claim ||= $t =~ /\\claimed\{/;
        while ($sentence =~ /^(.*?[.;:])(\s+[A-Z\\(]|\s*$)/s) {
            my $one = $1;
            substr($sentence, 0, length $one) = '';
            my $c = $one =~ /\\claimed\{/;
            my $plain = $one;
            $plain =~ s/\\[a-z]+\{[^}]*\}//gi;
            if ($plain =~ $COMPARATIVE && !$c) {
                my $w = $1;
                problem("$f:$sline: a comparative sentence (\"$w\") without \\claimed{...}: " . substr($one =~ s/^\s+//r, 0, 110));
            }
            $sline = $n + 1;
        }
        if ($t =~ /^\s*$/) { $sentence = ''; }
    }
}

sub fill {
    my ($f) = @_;
    open(my $fh, '<', $f) or die "prose.pl: $f: $!\n";
    local $/;
    my $s = <$fh>;
    close $fh;
    $s =~ s/<!--.*?-->\n?//gs;
    $s =~ s/\\val\{([^}]*)\}/exists $val{$1} ? $val{$1} : do { problem("$f: \\val{$1} is not in $gen\/numbers.md"); "??" }/ge;
    $s =~ s/\s*\\claimed\{([^}]*)\}/($claim{$1} \/\/ '') eq 'yes' ? '' : do { problem("$f: claim $1 does not hold or is missing"); " (CLAIM $1 FAILS)" }/ge;
    1 while $s =~ s/\\given\{([^{}]*)\}/$1/g;
    return $s;
}

if ($cmd eq 'check') {
    check_file($_) for @files;
} elsif ($cmd eq 'fill') {
    print fill($files[0]);
} elsif ($cmd eq 'splice') {
    my ($tpl, $target) = @files;
    my $body = fill($tpl);
    open(my $fh, '<', $target) or die "prose.pl: $target: $!\n";
    local $/;
    my $s = <$fh>;
    close $fh;
    $s =~ s/(<!-- BEGIN generated: \Q$tpl\E[^\n]*-->\n).*?(<!-- END generated -->)/$1$body$2/s
        or problem("$target: no <!-- BEGIN generated: $tpl ... --> ... <!-- END generated --> markers");
    if (!$bad) {
        open(my $out, '>', "$target.tmp") or die "prose.pl: $target.tmp: $!\n";
        print $out $s;
        close $out;
        rename("$target.tmp", $target) or die "prose.pl: $target: $!\n";
    }
} else {
    die "prose.pl: unknown command $cmd\n";
}
exit($bad ? 1 : 0);
