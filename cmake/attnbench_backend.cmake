# attnbench_add_backend(NAME
#     [OPTION var]            build it only when this cache option is ON
#     [PACKAGE name]          find_package(name CONFIG REQUIRED) first
#     SOURCES files...        compiled with the baseline flags: the vtable,
#                             available(), supports(), plan()
#     [KERNELS files...]      compiled with ISA_FLAGS as well: intrinsics live here
#     [ISA_FLAGS flags...]
#     [LIBS targets...])
# Registers the backend `attn_backend_<NAME>` in the registry, in call order:
# one call is all a new backend needs.
macro(attnbench_add_backend name)
  cmake_parse_arguments(ARG "" "OPTION;PACKAGE" "SOURCES;KERNELS;ISA_FLAGS;LIBS" ${ARGN})
  set(_attnbench_on TRUE)
  if(ARG_OPTION)
    set(_attnbench_on ${${ARG_OPTION}})
  endif()
  if(_attnbench_on)
    if(ARG_PACKAGE)
      find_package(${ARG_PACKAGE} CONFIG REQUIRED)
    endif()
    _attnbench_register_backend(${name})
  endif()
endmacro()

function(_attnbench_register_backend name)
  set(target attnbench_backend_${name})
  add_library(${target} OBJECT ${ARG_SOURCES} ${ARG_KERNELS})
  target_link_libraries(${target} PRIVATE attnbench_common ${ARG_LIBS})
  if(ARG_KERNELS)
    set_source_files_properties(${ARG_KERNELS} PROPERTIES COMPILE_OPTIONS "${ARG_ISA_FLAGS}")
  endif()
  set_property(GLOBAL APPEND PROPERTY ATTNBENCH_BACKENDS ${name})
  set_property(GLOBAL APPEND PROPERTY ATTNBENCH_BACKEND_TARGETS ${target})
  set_property(GLOBAL APPEND PROPERTY ATTNBENCH_BACKEND_LIBS ${ARG_LIBS})
endfunction()
