/* The machine as hwloc sees it, thread pinning, available memory. */
#include <hwloc.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnbench/cpu.h"
#include "common/headroom.h"
#include "harness.h"

static long cache_size(hwloc_topology_t topo, hwloc_obj_type_t type) {
  hwloc_obj_t c = hwloc_get_obj_by_type(topo, type, 0);
  return c && c->attr ? (long)c->attr->cache.size : 0;
}

/* What loading a topology maps: hwloc's objects and its reads of /sys are
 * well under 1 MiB on a small machine and a few MiB on one of hundreds of
 * cores; it does not check every allocation and segfaults when one fails
 * (hwloc 2.9 under a low RLIMIT_AS), so it is only loaded with this much
 * room. */
#define HWLOC_BYTES (8 * ATTN_MIB)

void bench_machine_read(bench_machine *m) {
  memset(m, 0, sizeof *m);
  m->cpu_family = m->cpu_model_number = -1;
  attn_cpu_describe(m->isa, sizeof m->isa);
  gethostname(m->hostname, sizeof m->hostname - 1);
  /* Too little address space: the machine stays unknown (0 cores: the
   * callers fall back to the OpenMP processor count) rather than crash. */
  if (attn_as_check(HWLOC_BYTES, "hwloc", NULL, 0)) {
    snprintf(m->cpu_model, sizeof m->cpu_model, "unknown (address-space limit)");
    return;
  }
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) || hwloc_topology_load(topo)) return;
  m->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  m->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  m->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  /* hwloc always reports at least one NUMA node, even without NUMA support. */
  m->numa_nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  m->l1d = cache_size(topo, HWLOC_OBJ_L1CACHE);
  m->l2 = cache_size(topo, HWLOC_OBJ_L2CACHE);
  m->l3 = cache_size(topo, HWLOC_OBJ_L3CACHE);
  hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
  const char *model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
  snprintf(m->cpu_model, sizeof m->cpu_model, "%s", model ? model : "unknown");
  for (size_t n = strlen(m->cpu_model); n > 0 && m->cpu_model[n - 1] == ' '; n--) m->cpu_model[n - 1] = 0;
  /* The model string does not tell a Zen 4 from a Zen 5 ("AMD EPYC" on some
   * VMs); family and model do, and the kernels behave differently on them. */
  const char *vendor = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUVendor") : NULL;
  const char *family = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUFamilyNumber") : NULL;
  const char *number = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModelNumber") : NULL;
  snprintf(m->cpu_vendor, sizeof m->cpu_vendor, "%s", vendor ? vendor : "");
  if (family) m->cpu_family = atoi(family);
  if (number) m->cpu_model_number = atoi(number);
  hwloc_topology_destroy(topo);
}

/* Memory follows the threads by hwloc_set_membind on the whole process, not
 * by first touch: the inputs are filled by the main thread alone, so first
 * touch would put them all on its node; binding to the nodes of the cores in
 * use keeps them local to the team (on a 1-node machine it changes nothing).
 * Where the OS refuses (no NUMA support, a container), first touch by the
 * pinned main thread is what remains, and the report says so. */
static void bind_memory(hwloc_topology_t topo, hwloc_const_cpuset_t cpus, char *mem, size_t nmem) {
  hwloc_nodeset_t nodes = hwloc_bitmap_alloc();
  char list[128] = "?";
  hwloc_cpuset_to_nodeset(topo, cpus, nodes);
  hwloc_bitmap_list_snprintf(list, sizeof list, nodes);
  const int count = hwloc_bitmap_weight(nodes);
  /* The process-wide policy covers the workers' allocations too; some
   * kernels allow only the calling (main, allocating) thread's. */
  int ok =
      hwloc_set_membind(topo, nodes, HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_PROCESS | HWLOC_MEMBIND_BYNODESET) ==
          0 ||
      hwloc_set_membind(topo, nodes, HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET) == 0;
  if (mem)
    snprintf(mem, nmem, "%s NUMA node%s %s", ok ? "bound to" : "first touch on", count == 1 ? "" : "s", list);
  hwloc_bitmap_free(nodes);
}

int bench_bind_threads(int threads, char *cpus, size_t ncpus, char *mem, size_t nmem, char *err, size_t n) {
  char why[128];
  if (attn_as_check(HWLOC_BYTES, "hwloc", why, sizeof why)) {
    snprintf(err, n, "--bind: %s (or use --no-bind)", why);
    return -1;
  }
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) || hwloc_topology_load(topo)) {
    snprintf(err, n, "--bind: hwloc could not read the topology");
    return -1;
  }
  const int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  hwloc_cpuset_t used = hwloc_bitmap_alloc();
  int failed = 0;
  if (cores <= 0) failed = 1;
    /* libgomp keeps a team's threads alive between parallel regions of the same
     * size, so binding them once pins every later region of the backends. */
#pragma omp parallel num_threads(threads) reduction(+ : failed)
  if (cores > 0) {
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)(omp_get_thread_num() % cores));
    hwloc_cpuset_t set = hwloc_bitmap_dup(core->cpuset);
    hwloc_bitmap_singlify(set);
    failed += hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD) != 0;
#pragma omp critical(attnbench_bind)
    hwloc_bitmap_or(used, used, set);
    hwloc_bitmap_free(set);
  }
  if (!failed) {
    if (cpus) hwloc_bitmap_list_snprintf(cpus, ncpus, used);
    bind_memory(topo, used, mem, nmem);
  }
  hwloc_bitmap_free(used);
  hwloc_topology_destroy(topo);
  if (failed) {
    snprintf(err, n, "--bind: hwloc could not pin %d thread(s) to cores", failed);
    return -1;
  }
  return 0;
}

size_t bench_flush_bytes(const bench_machine *m) {
  long largest = m->l3 ? m->l3 : m->l2 ? m->l2 : 32L << 20;
  /* 3x: enough that an LRU-like replacement has evicted every earlier line. */
  return 3 * (size_t)largest;
}

double bench_mem_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  double kib = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1) break;
  fclose(f);
  return kib * 1024.0;
}

int bench_default_threads(void) {
  bench_machine m;
  bench_machine_read(&m);
  return m.cores > 0 ? m.cores : omp_get_num_procs();
}
