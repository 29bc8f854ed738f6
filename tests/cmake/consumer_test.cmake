# Installs the mahpo build at BUILD_DIR into a fresh prefix, then configures, builds and runs the
# project in CONSUMER_SOURCE against that installed copy only.
file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGV}\n${output}")
  endif()
  set(output "${output}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
if(NOT EXISTS ${prefix}/lib/cmake/mahpo/mahpoConfig.cmake AND NOT EXISTS ${prefix}/lib64/cmake/mahpo/mahpoConfig.cmake)
  file(GLOB_RECURSE configs ${prefix}/*mahpoConfig.cmake)
  if(NOT configs)
    message(FATAL_ERROR "the install put no mahpoConfig.cmake under ${prefix}")
  endif()
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK}/build -G ${GENERATOR}
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK}/build)
run(${WORK}/build/consumer)
message(STATUS "consumer printed:\n${output}")
if(NOT output MATCHES "batch_size=[0-9]+ learning_rate=")
  message(FATAL_ERROR "the consumer's output is not a config:\n${output}")
endif()
