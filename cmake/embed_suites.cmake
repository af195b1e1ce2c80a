# Turns the suite text files into a C source, so the binary carries its suites
# and runs from anywhere. Called with -DOUT=file.c -DSUITE_DIR=dir
file(GLOB SUITES ${SUITE_DIR}/*.txt)
set(body "/* Generated from the text files of bench/suites by cmake/embed_suites.cmake. */\n#include <stddef.h>\n")
set(table "")
foreach(f IN LISTS SUITES)
  get_filename_component(name ${f} NAME_WE)
  # Suite names may hold dashes (sweep-seq); C identifiers may not.
  string(MAKE_C_IDENTIFIER "suite_${name}" ident)
  file(READ ${f} text)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "\"" "\\\"" text "${text}")
  string(REPLACE "\n" "\\n\"\n\"" text "${text}")
  string(APPEND body "static const char ${ident}[] = \"${text}\";\n")
  string(APPEND table "  {\"${name}\", ${ident}},\n")
endforeach()
string(APPEND body "const struct { const char *name, *text; } bench_suites[] = {\n${table}  {NULL, NULL}};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
