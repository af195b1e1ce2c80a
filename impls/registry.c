/* The list of compiled-in backends, generated from impls/CMakeLists.txt. A
 * backend that is compiled in but cannot run on this CPU (available() == 0)
 * is never returned by attn_backend_find. */
#include <string.h>

#include "attnbench/attn.h"

#define X(name) extern const attn_backend attn_backend_##name;
#include "registry_list.h"
#undef X

static const attn_backend *const registry[] = {
#define X(name) &attn_backend_##name,
#include "registry_list.h"
#undef X
};

size_t attn_backend_count(void) { return sizeof registry / sizeof registry[0]; }

const attn_backend *attn_backend_get(size_t i) { return i < attn_backend_count() ? registry[i] : NULL; }

const attn_backend *attn_backend_find(const char *name) {
  for (size_t i = 0; i < attn_backend_count(); i++)
    if (!strcmp(registry[i]->name, name) && registry[i]->available()) return registry[i];
  return NULL;
}
