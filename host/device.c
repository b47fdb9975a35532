/* device.c — OpenCL device discovery: the capability probe (OpenCL C version, local memory,
 * work-group limit, fp16/subgroup extensions), the device list, and the selector grammar shared
 * by the CLI and tt_context_create ("P:D", a device type, or a name substring). */
#include "internal.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TT_MAX_PLATFORMS 16
#define TT_MAX_DEVICES 64

static void info_string(cl_device_id d, cl_device_info what, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, cap, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[cap - 1] = '\0';
}

tt_status tt_device_probe(cl_device_id d, tt_device_info *info)
{
    TT_RETURN_IF(NULL, !d || !info, TT_ERR_NULL_ARGUMENT, "tt_device_probe: NULL argument");
    memset(info, 0, sizeof *info);
    info->platform_index = info->device_index = -1;
    cl_int err = clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL);
    TT_RETURN_IF(NULL, err != CL_SUCCESS, TT_INVALID_DEVICE, "tt_device_probe: not a device (%d)",
                 (int)err);
    info_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    info_string(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    info_string(d, CL_DEVICE_VERSION, info->version, sizeof info->version);
    info_string(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    char cver[128];
    info_string(d, CL_DEVICE_OPENCL_C_VERSION, cver, sizeof cver);
    if (sscanf(cver, "OpenCL C %d.%d", &info->opencl_c_major, &info->opencl_c_minor) != 2)
        info->opencl_c_major = 1, info->opencl_c_minor = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof info->compute_units,
                    &info->compute_units, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size,
                    &info->max_work_group_size, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof info->local_mem_size,
                    &info->local_mem_size, NULL);
    cl_device_local_mem_type lt = CL_GLOBAL;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL);
    info->local_mem_is_dedicated = lt == CL_LOCAL;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof info->global_mem_size,
                    &info->global_mem_size, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof info->max_mem_alloc_size,
                    &info->max_mem_alloc_size, NULL);
    size_t ext_len = 0;
    char *ext = NULL;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len) == CL_SUCCESS &&
        (ext = calloc(ext_len + 1, 1)) != NULL &&
        clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, ext_len, ext, NULL) == CL_SUCCESS) {
        info->has_fp16 = strstr(ext, "cl_khr_fp16") != NULL;
        info->has_fp64 = strstr(ext, "cl_khr_fp64") != NULL;
        info->has_subgroups =
            strstr(ext, "cl_khr_subgroups") != NULL || strstr(ext, "cl_intel_subgroups") != NULL;
    }
    free(ext);
    cl_platform_id p = NULL;
    if (clGetDeviceInfo(d, CL_DEVICE_PLATFORM, sizeof p, &p, NULL) == CL_SUCCESS && p) {
        clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name,
                          NULL);
        clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof info->platform_version,
                          info->platform_version, NULL);
        info->platform_name[sizeof info->platform_name - 1] = '\0';
        info->platform_version[sizeof info->platform_version - 1] = '\0';
    }
    return TT_SUCCESS;
}

/* Every (platform, device) pair in enumeration order. */
typedef struct {
    cl_platform_id platform;
    cl_device_id device;
    int pi, di;
} dev_entry;

static int enumerate(dev_entry *out, int cap)
{
    cl_platform_id plats[TT_MAX_PLATFORMS];
    cl_uint np = 0;
    if (clGetPlatformIDs(TT_MAX_PLATFORMS, plats, &np) != CL_SUCCESS)
        return 0;
    if (np > TT_MAX_PLATFORMS)
        np = TT_MAX_PLATFORMS;
    int n = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[TT_MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, TT_MAX_DEVICES, devs, &nd) != CL_SUCCESS)
            continue;
        if (nd > TT_MAX_DEVICES)
            nd = TT_MAX_DEVICES;
        for (cl_uint d = 0; d < nd && n < cap; d++)
            out[n++] = (dev_entry){plats[p], devs[d], (int)p, (int)d};
    }
    return n;
}

tt_status tt_device_list(tt_device_info *infos, size_t cap, size_t *count)
{
    TT_RETURN_IF(NULL, !count || (cap && !infos), TT_ERR_NULL_ARGUMENT,
                 "tt_device_list: NULL argument");
    dev_entry e[TT_MAX_PLATFORMS * 8];
    int n = enumerate(e, (int)(sizeof e / sizeof e[0]));
    *count = (size_t)n;
    for (int i = 0; i < n && (size_t)i < cap; i++) {
        tt_status st = tt_device_probe(e[i].device, &infos[i]);
        if (st != TT_SUCCESS)
            return st;
        infos[i].platform_index = e[i].pi;
        infos[i].device_index = e[i].di;
    }
    return TT_SUCCESS;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

tt_status tt_device_select(const char *sel, cl_platform_id *platform, cl_device_id *device)
{
    TT_RETURN_IF(NULL, !platform || !device, TT_ERR_NULL_ARGUMENT,
                 "tt_device_select: NULL argument");
    if (!sel || !*sel)
        sel = getenv("TOPTHETA_DEVICE");
    dev_entry e[TT_MAX_PLATFORMS * 8];
    int n = enumerate(e, (int)(sizeof e / sizeof e[0]));
    TT_RETURN_IF(NULL, n == 0, TT_DEVICE_NOT_FOUND,
                 "no OpenCL platform or device found (is an ICD such as pocl-opencl-icd installed?)");
    int pick = -1;
    if (!sel || !*sel) { /* default: first GPU, else first device */
        for (int i = 0; i < n && pick < 0; i++) {
            cl_device_type t = 0;
            clGetDeviceInfo(e[i].device, CL_DEVICE_TYPE, sizeof t, &t, NULL);
            if (t & CL_DEVICE_TYPE_GPU)
                pick = i;
        }
        if (pick < 0)
            pick = 0;
    } else {
        int p, d;
        char tail;
        cl_device_type want = 0;
        if (sscanf(sel, "%d:%d%c", &p, &d, &tail) == 2) {
            for (int i = 0; i < n && pick < 0; i++)
                if (e[i].pi == p && e[i].di == d)
                    pick = i;
        } else {
            if (!strcmp(sel, "cpu"))
                want = CL_DEVICE_TYPE_CPU;
            else if (!strcmp(sel, "gpu"))
                want = CL_DEVICE_TYPE_GPU;
            else if (!strcmp(sel, "accelerator"))
                want = CL_DEVICE_TYPE_ACCELERATOR;
            for (int i = 0; i < n && pick < 0; i++) {
                tt_device_info info;
                if (tt_device_probe(e[i].device, &info) != TT_SUCCESS)
                    continue;
                if (want ? (info.type & want) != 0
                         : contains_nocase(info.name, sel) || contains_nocase(info.vendor, sel) ||
                               contains_nocase(info.platform_name, sel))
                    pick = i;
            }
        }
        TT_RETURN_IF(NULL, pick < 0, TT_DEVICE_NOT_FOUND,
                     "no OpenCL device matches '%s' (%d device(s) present; see `toptheta devices`)",
                     sel, n);
    }
    *platform = e[pick].platform;
    *device = e[pick].device;
    return TT_SUCCESS;
}
