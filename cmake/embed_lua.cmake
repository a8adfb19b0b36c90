# Turns a Lua file into a C++ header holding its text as a raw string literal.
file(READ ${IN} content)
get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n#pragma once\nstatic const char kPreludeLua[] = R\"PELTLUA(${content})PELTLUA\";\n")
