/*
 * A plain C99 consumer of the installed NativeAdaBelief package: proves the C ABI is usable from
 * C through find_package(NativeAdaBelief) alone.
 *
 * It creates an optimizer, adds one labml-mode group (AdaBelief, rectification off, so every
 * step is an Adam-type step from step 1) and a 1000-element tensor, runs 10 steps, and checks one
 * element against a small float64 computation written out below. Exit status 0 on success.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "native_adabelief.h"

#define ELEMENTS 1000
#define STEPS 10
#define CHECKED 123

static int failures = 0;

static void check_status(nab_status status, const char* what) {
    if (status != NAB_STATUS_OK) {
        fprintf(stderr, "FAIL: %s returned %d: %s\n", what, (int)status, nab_get_last_error());
        ++failures;
    }
}

static float initial_parameter(int i) { return (float)i * 0.001f - 0.5f; }

/* The gradient of element i at step t (1-based): varies over steps, so the belief (g - m)^2 is
 * not trivially zero. */
static float gradient(int i, int t) {
    return (float)((i * 37) % 101 - 50) / 50.0f * (1.0f + 0.5f * (float)(t % 3));
}

int main(void) {
    nab_optimizer_config config;
    nab_group_options options;
    nab_optimizer* optimizer = NULL;
    nab_tensor_desc tensor;
    uint32_t group_id = 0, tensor_id = 0;
    static float parameters[ELEMENTS];
    static float gradients[ELEMENTS];
    int i, t;

    printf("NativeAdaBelief %s, ABI %u (built against ABI %d)\n", nab_get_version_string(),
           (unsigned)nab_get_abi_version(), NAB_ABI_VERSION);
    if (nab_get_abi_version() != NAB_ABI_VERSION) {
        fprintf(stderr, "FAIL: ABI version mismatch\n");
        return 1;
    }

    /* An invalid option is refused with a message naming it. */
    check_status(nab_group_options_init(&options, NAB_COMPATIBILITY_LABML), "nab_group_options_init");
    options.beta1 = 1.5;
    if (nab_group_options_validate(&options) != NAB_STATUS_INVALID_ARGUMENT ||
        strstr(nab_get_last_error(), "beta1") == NULL) {
        fprintf(stderr, "FAIL: beta1 = 1.5 was not refused by name (\"%s\")\n", nab_get_last_error());
        ++failures;
    } else {
        printf("beta1 = 1.5 refused: %s\n", nab_get_last_error());
    }

    check_status(nab_optimizer_config_init(&config), "nab_optimizer_config_init");
    config.thread_count = 2;
    check_status(nab_optimizer_create(&config, &optimizer), "nab_optimizer_create");
    if (optimizer == NULL) return 1;

    check_status(nab_group_options_init(&options, NAB_COMPATIBILITY_LABML), "nab_group_options_init");
    options.learning_rate = 1e-2;
    options.beta1 = 0.9;
    options.beta2 = 0.999;
    options.epsilon = 1e-8;
    options.rectify = 0;
    options.amsgrad = 0;
    options.optimized_update = 1;
    options.weight_decay = 0.0;
    check_status(nab_optimizer_add_group(optimizer, &options, &group_id), "nab_optimizer_add_group");

    for (i = 0; i < ELEMENTS; ++i) parameters[i] = initial_parameter(i);
    memset(&tensor, 0, sizeof tensor);
    tensor.struct_size = sizeof tensor;
    tensor.group_id = group_id;
    tensor.element_count = ELEMENTS;
    tensor.parameters = parameters;
    tensor.gradients = gradients;
    check_status(nab_optimizer_add_tensor(optimizer, &tensor, &tensor_id), "nab_optimizer_add_tensor");

    for (t = 1; t <= STEPS; ++t) {
        for (i = 0; i < ELEMENTS; ++i) gradients[i] = gradient(i, t);
        check_status(nab_optimizer_step(optimizer), "nab_optimizer_step");
    }
    printf("ran %d steps on %d elements (labml AdaBelief, rectify off, lr %g)\n", STEPS, ELEMENTS,
           options.learning_rate);

    {
        /* Element CHECKED by hand in float64: m <- b1 m + (1-b1) g; s <- b2 s + (1-b2)(g-m)^2;
         * theta <- theta - lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(s + eps) + eps). */
        double theta = (double)initial_parameter(CHECKED), m = 0.0, s = 0.0;
        double lr = options.learning_rate, b1 = options.beta1, b2 = options.beta2;
        double eps = options.epsilon, expected, got, error;
        nab_tensor_info info;
        for (t = 1; t <= STEPS; ++t) {
            double g = (double)gradient(CHECKED, t);
            double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
            m = b1 * m + (1.0 - b1) * g;
            s = b2 * s + (1.0 - b2) * (g - m) * (g - m);
            theta -= lr * sqrt(bc2) / bc1 * m / (sqrt(s + eps) + eps);
        }
        expected = theta;
        got = (double)parameters[CHECKED];
        error = fabs(got - expected) / (fabs(expected) > 1e-3 ? fabs(expected) : 1e-3);
        printf("element %d: library %.9g, float64 by hand %.9g, relative error %.3g\n", CHECKED,
               got, expected, error);
        if (!(error <= 1e-5)) {
            fprintf(stderr, "FAIL: element %d differs beyond 1e-5\n", CHECKED);
            ++failures;
        }

        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        check_status(nab_optimizer_get_tensor_info(optimizer, tensor_id, &info), "nab_optimizer_get_tensor_info");
        if (info.step != STEPS) {
            fprintf(stderr, "FAIL: step count %lld, expected %d\n", (long long)info.step, STEPS);
            ++failures;
        }
    }

    check_status(nab_optimizer_destroy(optimizer), "nab_optimizer_destroy");
    if (failures != 0) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("OK\n");
    return 0;
}
