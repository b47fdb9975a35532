/* cmd_devices.c — `toptheta devices`: every platform and device with the capabilities the
 * library checks (OpenCL C version, local memory, work-group limit, fp16, subgroups). */
#include "commands.h"
#include <string.h>

static const char *type_name(cl_device_type t)
{
    return (t & CL_DEVICE_TYPE_GPU)           ? "gpu"
           : (t & CL_DEVICE_TYPE_CPU)         ? "cpu"
           : (t & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator"
                                              : "other";
}

int cmd_devices(int argc, char **argv)
{
    static const char *const known[] = {"json", "device", NULL};
    if (!cli_check_options(argc, argv, known, "devices"))
        return 2;
    int json = cli_flag(argc, argv, "json");
    tt_device_info infos[64];
    size_t n = 0;
    tt_status st = tt_device_list(infos, 64, &n);
    if (st != TT_SUCCESS)
        return cli_error("devices", st, NULL);
    if (n > 64)
        n = 64;
    cl_platform_id dp;
    cl_device_id dd;
    tt_device_info def;
    int have_def = tt_device_select(NULL, &dp, &dd) == TT_SUCCESS &&
                   tt_device_probe(dd, &def) == TT_SUCCESS;
    for (size_t i = 0; i < n; i++) {
        const tt_device_info *d = &infos[i];
        int is_def = have_def && !strcmp(def.name, d->name) &&
                     !strcmp(def.platform_name, d->platform_name);
        if (json) {
            printf("{\"selector\":\"%d:%d\",\"default\":%s,\"platform\":\"%s\",\"name\":\"%s\","
                   "\"vendor\":\"%s\",\"type\":\"%s\",\"opencl_c\":\"%d.%d\",\"driver\":\"%s\","
                   "\"compute_units\":%u,\"max_work_group\":%zu,\"local_mem\":%llu,"
                   "\"local_mem_dedicated\":%s,\"global_mem\":%llu,\"fp16\":%s,\"subgroups\":%s}\n",
                   d->platform_index, d->device_index, is_def ? "true" : "false",
                   d->platform_name, d->name, d->vendor, type_name(d->type), d->opencl_c_major,
                   d->opencl_c_minor, d->driver_version, d->compute_units,
                   d->max_work_group_size, (unsigned long long)d->local_mem_size,
                   d->local_mem_is_dedicated ? "true" : "false",
                   (unsigned long long)d->global_mem_size, d->has_fp16 ? "true" : "false",
                   d->has_subgroups ? "true" : "false");
        } else {
            printf("%d:%d%s %s [%s] (%s)\n", d->platform_index, d->device_index,
                   is_def ? " *" : "  ", d->name, type_name(d->type), d->platform_name);
            printf("      OpenCL C %d.%d, driver %s, %u compute units, work-group <= %zu\n",
                   d->opencl_c_major, d->opencl_c_minor, d->driver_version, d->compute_units,
                   d->max_work_group_size);
            printf("      local memory %llu KiB (%s), global %llu MiB, fp16 %s, subgroups %s\n",
                   (unsigned long long)d->local_mem_size / 1024,
                   d->local_mem_is_dedicated ? "dedicated" : "emulated in global",
                   (unsigned long long)d->global_mem_size >> 20, d->has_fp16 ? "yes" : "no",
                   d->has_subgroups ? "yes" : "no");
        }
    }
    if (!json)
        printf("(* = default device; select with --device P:D, cpu, gpu, accelerator or a name)\n");
    return n ? 0 : 1;
}
