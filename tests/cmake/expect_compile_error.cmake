# Compiles SOURCE with -fsyntax-only. MODE=good: it must compile. MODE=bad: with
# -DMAHPO_COMPILE_FAIL it must fail, and the compiler's output must match the regular expression
# on the source's "// expect-error: <regex>" line, so it fails for the reason the test names.
file(STRINGS ${SOURCE} expect_lines REGEX "^// expect-error: ")
if(NOT expect_lines)
  message(FATAL_ERROR "${SOURCE} has no '// expect-error: <regex>' line")
endif()
list(GET expect_lines 0 expect_line)
string(REGEX REPLACE "^// expect-error: " "" expected "${expect_line}")

set(flags -std=c++20 -fsyntax-only -I${INCLUDE})
if(MODE STREQUAL "bad")
  list(APPEND flags -DMAHPO_COMPILE_FAIL)
endif()
execute_process(COMMAND ${COMPILER} ${flags} ${SOURCE}
  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)

if(MODE STREQUAL "good")
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${SOURCE} should compile without MAHPO_COMPILE_FAIL, but:\n${output}")
  endif()
  message(STATUS "compiles, as it should")
else()
  if(result EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled with MAHPO_COMPILE_FAIL; it must not")
  endif()
  if(NOT output MATCHES "${expected}")
    message(FATAL_ERROR "${SOURCE} failed to compile, but not with '${expected}':\n${output}")
  endif()
  message(STATUS "fails to compile with '${expected}', as it should")
endif()
