// Every nab_* struct of the C ABI read into the core's own types and written back from them,
// with the header's struct_size promise (older, smaller structs read with defaults for the
// missing fields; newer, larger ones accepted when the unknown bytes are zero). Errors name the
// field ("beta1", "struct_size"); the entry point qualifies it with the argument's name.
#pragma once

#include "core/gradient_scaling.h"
#include "core/hyperparameters.h"
#include "core/optimizer.h"
#include "core/staged_restore.h"
#include "native_adabelief.h"

namespace nab::api {

// The creation settings of nab_optimizer_config, range-checked (not yet against the machine).
struct OptimizerConfig {
    nab_device_type device_type = NAB_DEVICE_CPU;
    int device_ordinal = 0;
    int thread_count = 0;
    nab_simd_level simd_level = NAB_SIMD_AUTO;
};

// Reading converts and checks every field (the core's own rules through nab::validate), so a
// read value is valid. The pointers are not null (the entry points check that, naming them).
GroupOptions read_group_options(const nab_group_options* options);
StepOptions read_step_options(const nab_step_options* options);
OptimizerConfig read_optimizer_config(const nab_optimizer_config* config);
TensorSpec read_tensor_desc(const nab_tensor_desc* tensor);
TensorState read_tensor_state(const nab_tensor_state* state);

void write_group_options(const GroupOptions& options, nab_group_options* out);
void write_step_options(const StepOptions& options, nab_step_options* out);
void write_step_report(const StepReport& report, nab_step_report* out);
void write_tensor_info(const TensorFacts& facts, nab_tensor_info* out);

// The defaults of nab_group_options_init, nab_step_options_init and nab_optimizer_config_init.
nab_group_options default_group_options(Compatibility compatibility);
nab_step_options default_step_options();
nab_optimizer_config default_optimizer_config();

// Checks of single values that cross the ABI as plain integers; `argument` names them.
nab_simd_level read_simd_level(std::int32_t level, const char* argument);
void check_thread_count(std::int32_t thread_count, const char* argument);
ElementType read_element_type(std::int32_t dtype, const char* argument);
StateKind read_state_kind(std::int32_t kind, const char* argument);
StateEncoding read_state_encoding(std::int32_t encoding, const char* argument);

}  // namespace nab::api
