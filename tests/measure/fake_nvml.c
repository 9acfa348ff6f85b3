/* A stand-in for libnvidia-ml.so.1 with two GPUs, loaded by the measure tests
 * through the same dlopen path as the real library. GPU 0 has an energy
 * counter that grows by exactly 1 J per reading; GPU 1 has none (like older
 * boards) and draws a constant 200 W, so lcte must integrate its power. */
#include <string.h>

typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct {
  unsigned int gpu, memory;
} nvmlUtilization_t;
typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;

static struct nvmlDevice_st { int index; } devices[2] = {{0}, {1}};
static unsigned long long energy_calls = 0;

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned int* n) {
  *n = 2;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t* d) {
  if (i > 1) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *d = &devices[i];
  return 0;
}
int nvmlDeviceGetName(nvmlDevice_t d, char* name, unsigned int len) {
  strncpy(name, d->index == 0 ? "Fake H100" : "Fake V100", len);
  return 0;
}
int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t* u) {
  u->gpu = d->index == 0 ? 75 : 30;
  u->memory = 10;
  return 0;
}
int nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t* m) {
  m->total = 80ull << 30;
  m->used = (unsigned long long)(d->index + 1) << 30;
  m->free = m->total - m->used;
  return 0;
}
int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int* mw) {
  *mw = d->index == 0 ? 350000 : 200000;
  return 0;
}
int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int* t) {
  *t = 60 + d->index;
  return 0;
}
int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long* mj) {
  if (d->index != 0) return 3; /* NVML_ERROR_NOT_SUPPORTED */
  *mj = 5000000ull + 1000ull * energy_calls++;
  return 0;
}
