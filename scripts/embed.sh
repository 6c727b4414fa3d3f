#!/bin/sh
# embed.sh NAME FILE -- print a C source file defining `const char NAME[]`
# with FILE's bytes (text files only), so the binary carries FILE.
name=$1
file=$2
printf '/* Generated from %s by scripts/embed.sh; do not edit. */\n' "$file"
printf 'const char %s[] =\n' "$name"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$file"
printf '    ;\n'
