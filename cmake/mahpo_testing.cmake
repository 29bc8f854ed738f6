# Test helpers for mahpo's own build (tests/, examples/): included when the tests are built.
find_package(Python3 REQUIRED COMPONENTS Interpreter)

# mahpo_add_output_test(NAME <name> EXPECT <regex> [SKIP_IF <regex>] [EXIT_CODE <n>] COMMAND <program> [<args>...])
# A test that passes only when the program exits 0 (or EXIT_CODE, for a refusal) and its output matches EXPECT: ctest's own
# PASS_REGULAR_EXPRESSION would pass a program that printed the line and then failed. Exit 77, or
# output matching SKIP_IF, skips the test with the reason printed. <program> may be a target name.
function(mahpo_add_output_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;EXPECT;SKIP_IF;EXIT_CODE" "COMMAND")
  if(NOT arg_NAME OR NOT arg_EXPECT OR NOT arg_COMMAND)
    message(FATAL_ERROR "mahpo_add_output_test needs NAME, EXPECT and COMMAND")
  endif()
  list(POP_FRONT arg_COMMAND program)
  if(TARGET ${program})
    set(program $<TARGET_FILE:${program}>)
  endif()
  set(skip_if)  # and --exit-code
  if(arg_SKIP_IF)
    set(skip_if --skip-if "${arg_SKIP_IF}")
  endif()
  if(arg_EXIT_CODE)
    list(APPEND skip_if --exit-code ${arg_EXIT_CODE})
  endif()
  add_test(NAME ${arg_NAME}
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/expect_output.py --expect "${arg_EXPECT}" ${skip_if}
            -- ${program} ${arg_COMMAND})
  set_tests_properties(${arg_NAME} PROPERTIES SKIP_RETURN_CODE 77)
endfunction()

# mahpo_discover_catch_tests(<target> <prefix> <label>): every Catch2 case of <target> as a ctest of
# its own, run with --warn NoTests (a name that matches no case fails instead of passing empty), and
# <target> recorded for tests.every_case_runs, which checks that each case is registered exactly once.
function(mahpo_discover_catch_tests target prefix label)
  catch_discover_tests(${target} TEST_PREFIX "${prefix}" EXTRA_ARGS --warn NoTests PROPERTIES LABELS ${label})
  set_property(GLOBAL APPEND PROPERTY mahpo_catch_programs "${prefix}=$<TARGET_FILE:${target}>")
endfunction()
