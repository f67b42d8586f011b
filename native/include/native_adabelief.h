/*
 * NativeAdaBelief — the C ABI.
 *
 * A fused, multi-tensor AdaBelief optimizer (and its Adam-family relatives: Adam, AMSGrad,
 * RAdam) behind plain C. This header is the one contract between the native core and every
 * caller (the generated C# bindings, a C program, any language with a C FFI).
 *
 * Conventions that hold for every function below:
 *
 *  - Every function returns an nab_status (except the library queries that cannot fail). On
 *    any status other than NAB_STATUS_OK, nab_get_last_error() returns a message naming the
 *    offending argument and its value (nab_get_last_error_argument() names the argument alone),
 *    and nothing was changed: validation happens before any mutation.
 *  - Opaque handles (nab_optimizer) are created and destroyed by this library. A handle is
 *    not an address: a call with a destroyed handle (also a second destroy) or one that never
 *    came from nab_optimizer_create is refused with NAB_STATUS_INVALID_ARGUMENT naming
 *    "optimizer", and destroy racing another thread's call is safe (one of them gets BUSY).
 *    Pointers to parameters and gradients belong to the caller; the library never frees them
 *    and never writes a gradient except in nab_optimizer_zero_gradients.
 *  - Structs carry their own size in `struct_size` (set it to sizeof the struct you compiled
 *    against). Later versions only append fields, so an older caller keeps working: a struct
 *    smaller than this library's (from an older header) is read with the missing fields at
 *    their defaults, and an output struct gets only the fields it has room for; a larger one
 *    (from a newer header) is accepted when every byte this library does not know is zero
 *    (what the newer fields' defaults are), and output structs get those bytes zeroed. Refused
 *    with NAB_STATUS_INVALID_ARGUMENT: a struct_size below 4 or above NAB_MAX_STRUCT_SIZE, one
 *    that ends inside a field, and a larger struct with a non-zero byte beyond the fields this
 *    library knows (the message names the byte's offset).
 *  - Booleans are int32_t holding 0 or 1; any other value is refused.
 *  - Threading: one optimizer must not be used from two threads at the same time; a second
 *    concurrent call on the same optimizer is refused with NAB_STATUS_BUSY rather than
 *    corrupting state. Different optimizers are fully independent. The library itself runs
 *    a step on its own worker threads (see thread_count).
 *  - Element types: parameters and gradients may each be float32, float16 or bfloat16
 *    (nab_dtype); all arithmetic is float32. The optimizer's state is float32, except m, s and
 *    s_max of a group with state_encoding NAB_STATE_ENCODING_BLOCKWISE_8BIT, which are stored in
 *    8 bits per element (see nab_state_encoding). Narrowing to 16 bits rounds to nearest, ties
 *    to even.
 *  - Ids: groups and tensors get dense ids 0, 1, 2, ... in the order they are added, per
 *    optimizer. Nothing is ever removed.
 *
 * The arithmetic is specified in docs/algorithm.md:
 * two compatibility modes (labml, adabelief-pytorch), each reproduced to float32 rounding.
 */
#ifndef NATIVE_ADABELIEF_H
#define NATIVE_ADABELIEF_H

#include <stdint.h>

#if defined(_WIN32)
#  if defined(NAB_BUILDING_LIBRARY)
#    define NAB_API __declspec(dllexport)
#  else
#    define NAB_API __declspec(dllimport)
#  endif
#else
#  define NAB_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version. A caller compares nab_get_abi_version() with the value it was built
 * against and refuses to run on a mismatch; it changes whenever a declaration here changes
 * incompatibly. */
#define NAB_ABI_VERSION 3

/* The most CPU worker threads an optimizer accepts (nab_optimizer_config.thread_count,
 * nab_optimizer_set_thread_count): no machine the library targets has more hardware threads,
 * and an absurd count must not start millions of threads. */
#define NAB_MAX_THREAD_COUNT 4096

/* The largest struct_size any struct may declare (see the conventions above). */
#define NAB_MAX_STRUCT_SIZE 4096

/* Elements per chunk of a CPU optimizer's gradient pass: the pass cuts each tensor into chunks
 * of this many elements starting at its first element (the last chunk of a tensor may be
 * shorter), sums each chunk on its own and adds the chunks' totals in tensor id order, chunks
 * in element order. A tensor registered as a sub-range of a larger one that starts at a
 * multiple of this many elements into it therefore has exactly the chunks, and the chunk
 * totals, the larger one has there (see nab_optimizer_compute_gradient_chunk_statistics). */
#define NAB_GRADIENT_CHUNK_ELEMENTS 32768
/* NAB_STATE_ENCODING_BLOCKWISE_8BIT: elements per block (each block of m, s and s_max has one
 * float32 scale). */
#define NAB_BLOCKWISE_8BIT_BLOCK_SIZE 256

/* NAB_STATE_ENCODING_BLOCKWISE_8BIT: the fewest elements a tensor needs for its state to be
 * stored in 8 bits (a smaller tensor of such a group keeps float32 state). */
#define NAB_BLOCKWISE_8BIT_MIN_ELEMENTS 4096

/* Outcome of every call. */
typedef enum nab_status {
    /* The call did what it says. */
    NAB_STATUS_OK = 0,
    /* An argument is null, zero, out of range, inconsistent or of the wrong struct_size. */
    NAB_STATUS_INVALID_ARGUMENT = 1,
    /* A group id or tensor id that this optimizer does not have. */
    NAB_STATUS_NOT_FOUND = 2,
    /* A native allocation failed. */
    NAB_STATUS_OUT_OF_MEMORY = 3,
    /* The request is valid but this build or this machine cannot serve it (for example a
     * SIMD level the CPU lacks, or a device backend that was not compiled in). */
    NAB_STATUS_UNSUPPORTED = 4,
    /* The optimizer is being used by another thread right now. Nothing was done. */
    NAB_STATUS_BUSY = 5,
    /* A device (CUDA) call failed; the message carries the device's error text. */
    NAB_STATUS_DEVICE_ERROR = 6,
    /* A bug in this library. Please report it with the message. */
    NAB_STATUS_INTERNAL_ERROR = 7
} nab_status;

/* Which original implementation a group reproduces. */
typedef enum nab_compatibility {
    /* labml.ai's annotated AdaBelief (labml_nn.optimizers): epsilon added to the second
     * moment before the square root, never stored. */
    NAB_COMPATIBILITY_LABML = 0,
    /* The official adabelief-pytorch 0.2.1 package: epsilon accumulated into the stored
     * second moment every step. */
    NAB_COMPATIBILITY_ADABELIEF_PYTORCH = 1
} nab_compatibility;

/* How weight decay is applied (always before the moments are updated). */
typedef enum nab_weight_decay_mode {
    /* theta <- theta * (1 - lr * weight_decay) (AdamW style). */
    NAB_WEIGHT_DECAY_DECOUPLED = 0,
    /* theta <- theta * (1 - weight_decay), independent of the learning rate. */
    NAB_WEIGHT_DECAY_ABSOLUTE = 1,
    /* gradient <- gradient + weight_decay * theta (classic L2; the caller's gradient buffer
     * is never written). */
    NAB_WEIGHT_DECAY_L2 = 2
} nab_weight_decay_mode;

/* What the second moment tracks. */
typedef enum nab_second_moment {
    /* AdaBelief: EMA of the squared residual (g - m)^2. */
    NAB_SECOND_MOMENT_BELIEF = 0,
    /* Adam family: EMA of the squared gradient g^2 (labml compatibility only). */
    NAB_SECOND_MOMENT_SQUARE = 1
} nab_second_moment;

/* The per-tensor state arrays an optimizer owns. */
typedef enum nab_state_kind {
    /* m: EMA of the gradient. */
    NAB_STATE_FIRST_MOMENT = 0,
    /* s: EMA of the squared residual (or squared gradient). */
    NAB_STATE_SECOND_MOMENT = 1,
    /* s_max: running maximum of s; exists only once the tensor's group has had amsgrad on. */
    NAB_STATE_MAX_SECOND_MOMENT = 2,
    /* The float32 master copy of a 16-bit parameter tensor; exists only for tensors added
     * with master_parameters = 1. The step updates it and writes its rounding into the
     * caller's 16-bit parameters. */
    NAB_STATE_MASTER_PARAMETERS = 3
} nab_state_kind;

/* How a group's tensors store m, s and s_max (docs/algorithm.md, "8-bit state"; docs/eight-bit-state.md).
 * The arithmetic of a step is float32 in both. */
typedef enum nab_state_encoding {
    /* float32: 4 bytes per element per array (8 for m and s). The default. */
    NAB_STATE_ENCODING_FLOAT32 = 0,
    /* One code byte per element and one float32 scale per NAB_BLOCKWISE_8BIT_BLOCK_SIZE
     * elements, for tensors of at least NAB_BLOCKWISE_8BIT_MIN_ELEMENTS elements (smaller ones
     * keep float32): about 2.03 bytes per element for m and s. m uses a signed 8-bit float
     * format (1 sign, 4 exponent, 3 fraction bits, with subnormals), s and s_max an unsigned one
     * without a zero (5 exponent, 3 fraction bits: never 0 while its block holds anything
     * else), each relative to its block's scale, the block's largest magnitude (which is stored
     * exactly). A step decodes them, updates in
     * float32 exactly as in the float32 encoding, and stores the nearest codes for the new
     * values with the blocks' new scales. nab_optimizer_read_state and
     * nab_optimizer_write_state still read and write float32 values (decoded, or encoded with
     * fresh scales); nab_optimizer_read_state_codes and nab_optimizer_write_state_codes give
     * the codes and scales as they are. */
    NAB_STATE_ENCODING_BLOCKWISE_8BIT = 1
} nab_state_encoding;

/* Element type of a caller's parameter or gradient buffer. */
typedef enum nab_dtype {
    /* IEEE-754 binary32 (4 bytes). */
    NAB_DTYPE_FLOAT32 = 0,
    /* IEEE-754 binary16 (2 bytes): 5 exponent bits, 10 mantissa bits; largest finite 65504. */
    NAB_DTYPE_FLOAT16 = 1,
    /* bfloat16 (2 bytes): the upper half of a float32; float32's range, 7 mantissa bits. */
    NAB_DTYPE_BFLOAT16 = 2
} nab_dtype;

/* Where an optimizer keeps its state and runs its step. */
typedef enum nab_device_type {
    /* Host memory; the step runs on the library's CPU worker threads. */
    NAB_DEVICE_CPU = 0,
    /* Device memory of one NVIDIA GPU; the step runs as fused kernels on a CUDA stream. */
    NAB_DEVICE_CUDA = 1
} nab_device_type;

/* Instruction-set level of the CPU kernel. The values are names, not a ranking: an x86-64
 * CPU supports SCALAR and the AVX levels it has, an arm64 CPU SCALAR and NEON. */
typedef enum nab_simd_level {
    /* The best level this CPU supports (the default). */
    NAB_SIMD_AUTO = 0,
    /* Portable scalar code; runs on any CPU. */
    NAB_SIMD_SCALAR = 1,
    /* 256-bit AVX2 kernel (x86-64). */
    NAB_SIMD_AVX2 = 2,
    /* 512-bit AVX-512F kernel (x86-64). */
    NAB_SIMD_AVX512 = 3,
    /* 128-bit NEON (Advanced SIMD) kernel (arm64, where every CPU has it). */
    NAB_SIMD_NEON = 4,
    /* The AVX-512F kernel narrowing bfloat16 with AVX-512 BF16's conversion instruction
     * (x86-64 CPUs with AVX512_BF16 and AVX512DQ: Intel Cooper Lake and Sapphire Rapids on,
     * AMD Zen 4 on); bit-identical to NAB_SIMD_AVX512, faster where parameters are bfloat16. */
    NAB_SIMD_AVX512_BF16 = 5
} nab_simd_level;

/* Hyper-parameters of one parameter group. Fill with nab_group_options_init() and change
 * what you need. Valid ranges (checked by every call that takes this struct):
 * learning_rate >= 0 and finite; 0 <= beta1 < 1; 0 <= beta2 < 1; epsilon >= 0 and finite;
 * weight_decay >= 0 and finite; enums within their values; booleans 0 or 1;
 * second_moment SQUARE and optimized_update 0 only with NAB_COMPATIBILITY_LABML. */
typedef struct nab_group_options {
    /* sizeof(nab_group_options) as compiled by the caller. */
    uint32_t struct_size;
    /* nab_compatibility. Default NAB_COMPATIBILITY_LABML. */
    int32_t compatibility;
    /* alpha. Default 1e-3. May change between any two steps. */
    double learning_rate;
    /* Default 0.9. */
    double beta1;
    /* Default 0.999. */
    double beta2;
    /* Default 1e-16 (see docs/compatibility.md for what epsilon means in each mode). */
    double epsilon;
    /* lambda. Default 0. */
    double weight_decay;
    /* nab_weight_decay_mode. Default NAB_WEIGHT_DECAY_DECOUPLED. */
    int32_t weight_decay_mode;
    /* nab_second_moment. Default NAB_SECOND_MOMENT_BELIEF. */
    int32_t second_moment;
    /* Keep and use the running maximum s_max. Default 0. */
    int32_t amsgrad;
    /* RAdam rectification. Default 1. */
    int32_t rectify;
    /* While the rectification term is intractable (early steps), take an SGD-with-momentum
     * step (1) or leave the parameters unchanged (0). Default 1. */
    int32_t degenerate_to_sgd;
    /* labml only: apply the second bias correction to the step size (1) or to the
     * denominator (0). Default 1. */
    int32_t optimized_update;
    /* nab_state_encoding of the group's m, s and s_max. Default NAB_STATE_ENCODING_FLOAT32.
     * Each tensor resolves it by its size (see nab_tensor_info.state_encoding). */
    int32_t state_encoding;
} nab_group_options;

/* How an optimizer is created. Fill with nab_optimizer_config_init(). */
typedef struct nab_optimizer_config {
    /* sizeof(nab_optimizer_config) as compiled by the caller. */
    uint32_t struct_size;
    /* nab_device_type. Default NAB_DEVICE_CPU. */
    int32_t device_type;
    /* Device ordinal for NAB_DEVICE_CUDA; must be 0 for the CPU. Default 0. */
    int32_t device_ordinal;
    /* Worker threads for the CPU step, including the caller's thread; 0 means one per
     * logical core; at most NAB_MAX_THREAD_COUNT. Default 0. Results are bit-identical for
     * every thread count. After each pass of a step, idle workers spin up to 100 microseconds
     * for the next one before they sleep (waking a sleeping thread costs about as much). */
    int32_t thread_count;
    /* nab_simd_level for the CPU kernel. Default NAB_SIMD_AUTO. Results are bit-identical
     * for every level. */
    int32_t simd_level;
} nab_optimizer_config;

/* One tensor to optimize. */
typedef struct nab_tensor_desc {
    /* sizeof(nab_tensor_desc) as compiled by the caller. */
    uint32_t struct_size;
    /* The group whose hyper-parameters apply. */
    uint32_t group_id;
    /* Number of elements; at least 1. */
    uint64_t element_count;
    /* element_count elements of parameter_dtype, read and written by every step. Owned by the
     * caller; must stay valid until replaced or the optimizer is destroyed. Not null. Shares no
     * memory with any buffer registered with the optimizer (see nab_optimizer_add_tensor). */
    void* parameters;
    /* element_count elements of gradient_dtype, read by every step, written only by
     * nab_optimizer_zero_gradients. Owned by the caller. Null means "no gradient": the tensor
     * is skipped by the step (no decay, no moment update, step count unchanged). Must not
     * overlap parameters, nor any buffer registered with the optimizer. */
    void* gradients;
    /* nab_dtype of parameters. Default (0) NAB_DTYPE_FLOAT32. */
    int32_t parameter_dtype;
    /* nab_dtype of gradients. Default (0) NAB_DTYPE_FLOAT32. */
    int32_t gradient_dtype;
    /* Boolean; only with 16-bit parameters. 1: the optimizer keeps a float32 master copy
     * (NAB_STATE_MASTER_PARAMETERS, initialised from the parameters when the tensor is
     * added); each step updates the master copy and writes its rounding to nearest even into
     * the parameters, so small updates accumulate instead of being rounded away. 0: the step
     * widens the 16-bit parameters, updates them in float32 and rounds them back. */
    int32_t master_parameters;
    /* Must be 0. */
    int32_t reserved;
} nab_tensor_desc;

/* What an optimizer knows about one tensor. */
typedef struct nab_tensor_info {
    /* sizeof(nab_tensor_info) as compiled by the caller (set before the call). */
    uint32_t struct_size;
    /* The group it belongs to. */
    uint32_t group_id;
    /* Number of elements. */
    uint64_t element_count;
    /* How many steps this tensor has taken (t). */
    int64_t step;
    /* 1 when s_max exists for this tensor, else 0. */
    int32_t has_max_second_moment;
    /* 1 when a gradient pointer is currently registered, else 0. */
    int32_t has_gradients;
    /* nab_dtype of the parameters. */
    int32_t parameter_dtype;
    /* nab_dtype of the gradients. */
    int32_t gradient_dtype;
    /* 1 when the optimizer keeps a float32 master copy of the parameters, else 0. */
    int32_t has_master_parameters;
    /* Always 0. */
    int32_t reserved;
    /* nab_state_encoding of this tensor's m, s and s_max: its group's, except
     * NAB_STATE_ENCODING_FLOAT32 for a tensor of fewer than NAB_BLOCKWISE_8BIT_MIN_ELEMENTS
     * elements in a NAB_STATE_ENCODING_BLOCKWISE_8BIT group. */
    int32_t state_encoding;
} nab_tensor_info;

/* One tensor's whole saved state, for nab_optimizer_restore_tensor. The arrays are the caller's
 * host memory (element_count floats each), only read, and only during the call. */
typedef struct nab_tensor_state {
    /* sizeof(nab_tensor_state) as compiled by the caller. */
    uint32_t struct_size;
    /* The nab_state_encoding the values were saved in: NAB_STATE_ENCODING_FLOAT32 (0), or
     * NAB_STATE_ENCODING_BLOCKWISE_8BIT for values decoded from 8-bit codes, whose s and s_max
     * were quantized separately and so need not keep s_max >= s. */
    int32_t source_encoding;
    /* The step count t (>= 0). */
    int64_t step;
    /* The tensor's element count (must be the registered one). */
    uint64_t element_count;
    /* m. Not null. */
    const float* first_moment;
    /* s: >= 0 and not NaN everywhere. Not null. */
    const float* second_moment;
    /* s_max, or null for none (the tensor then gets a zeroed one if its group keeps s_max).
     * >= 0 and not NaN everywhere; where the group has amsgrad on, the tensor has taken steps
     * and source_encoding is float32, s_max >= s everywhere unless s_max is all zero (see
     * docs/reliability.md). */
    const float* max_second_moment;
    /* The float32 master copy: finite everywhere; not null exactly when the tensor keeps one. */
    const float* master_parameters;
} nab_tensor_state;

/* What every step does to the gradients before the update: loss-scale removal, the
 * non-finite check with skipping, clipping by the global L2 norm. Fill with
 * nab_step_options_init() and set with nab_optimizer_set_step_options(); they stay in force
 * for every later step. Valid: inverse_gradient_scale > 0 and finite also when rounded to
 * float32 (the step multiplies by it in float32); max_gradient_norm
 * finite and >= 0; booleans 0 or 1; reserved 0.
 *
 * With any of skip_nonfinite, max_gradient_norm > 0 or compute_gradient_norm on, each step
 * first makes one fused read-only pass over every registered gradient (4 bytes per float32
 * element, 2 per 16-bit one) that counts the non-finite elements and sums the squares in
 * double, in an order fixed by the tensor sizes (so the result does not depend on threads). */
typedef struct nab_step_options {
    /* sizeof(nab_step_options) as compiled by the caller. */
    uint32_t struct_size;
    /* 1: when any registered gradient holds a NaN or +-Inf, skip the whole step: no
     * parameter, state array or step count changes (the report says so). Default 0. */
    int32_t skip_nonfinite;
    /* Every gradient element is multiplied by this inside the step (1 / loss scale with
     * mixed-precision loss scaling). The caller's gradient buffers are never written.
     * Default 1. */
    double inverse_gradient_scale;
    /* > 0: clip by the global L2 norm over all registered gradients, as PyTorch's
     * clip_grad_norm_: with norm = inverse_gradient_scale * ||g||, gradients are multiplied by
     * min(1, max_gradient_norm / (norm + 1e-6)). 0: no clipping. Default 0. Without
     * skip_nonfinite, one NaN gradient element makes the norm and so the factor NaN, which then
     * reaches every parameter (PyTorch behaves the same); use both together. */
    double max_gradient_norm;
    /* 1: compute the norm for the report even when not clipping. Default 0. */
    int32_t compute_gradient_norm;
    /* Must be 0. */
    int32_t reserved;
} nab_step_options;

/* What the last nab_optimizer_step did with the gradients. */
typedef struct nab_step_report {
    /* sizeof(nab_step_report) as compiled by the caller (set before the call). */
    uint32_t struct_size;
    /* 1 when the step made the gradient pass (any check or norm requested), else 0. */
    int32_t gradients_checked;
    /* 1 when the step was skipped: because of non-finite gradients (skip_nonfinite), or on
     * CUDA because a tensor to be stepped has step count INT64_MAX (step_count_exhausted) or
     * because it was a stale graph replay (stale_graph). */
    int32_t skipped;
    /* 1 when a CUDA step was skipped because a tensor to be stepped has step count INT64_MAX,
     * so t + 1 does not exist (the device checks it; a CPU optimizer refuses such a step with
     * NAB_STATUS_INVALID_ARGUMENT instead), else 0. */
    int32_t step_count_exhausted;
    /* NaN, +Inf and -Inf gradient elements found (0 when not checked). */
    uint64_t nonfinite_count;
    /* The global L2 norm of the gradients after the inverse scale, before clipping (NaN when
     * not checked; non-finite when a gradient is). */
    double gradient_norm;
    /* The factor every gradient element was multiplied by: inverse_gradient_scale times the
     * clipping coefficient (as computed in double; the step applies it rounded to float32). */
    double gradient_scale;
    /* Number of steps this optimizer has run, skipped ones included. */
    uint64_t step_calls;
    /* 1 when the step was a replay of a CUDA graph captured before the optimizer's tensors,
     * buffers or options changed: it was skipped and changed nothing (its tables may be gone;
     * capture the step again), else 0. */
    int32_t stale_graph;
    /* Always 0. */
    int32_t reserved;
} nab_step_report;


/* An optimizer: its groups, tensors, state (m, s, s_max, step counts) and worker threads. */
typedef struct nab_optimizer nab_optimizer;

/* ---------------------------------------------------------------------------------------
 * Library queries. Thread-safe; cannot fail.
 * ------------------------------------------------------------------------------------- */

/* The ABI version this library implements (NAB_ABI_VERSION of its build). */
NAB_API uint32_t nab_get_abi_version(void);

/* The library's version, e.g. "0.1.0". Static storage; never free it. */
NAB_API const char* nab_get_version_string(void);

/* The message of the last failed call on the calling thread ("" if none). Thread-local:
 * valid until the next failed nab_* call on the same thread; copy it if you need it longer. */
NAB_API const char* nab_get_last_error(void);

/* The argument, or field of an argument, that the last failed call on the calling thread
 * refused, as the message names it: "learning_rate", "options.beta1", "tensor->gradients",
 * "config->device_ordinal". "" when that failure was not about one argument (BUSY, a device
 * error, out of memory) or nothing failed yet. Thread-local, like nab_get_last_error(). */
NAB_API const char* nab_get_last_error_argument(void);

/* The name of a status as this header spells it ("NAB_STATUS_INVALID_ARGUMENT"), or
 * "NAB_STATUS_UNKNOWN" for a value that is none of them. Static storage; never free it. */
NAB_API const char* nab_status_name(int32_t status);

/* ---------------------------------------------------------------------------------------
 * Defaults. Thread-safe.
 * ------------------------------------------------------------------------------------- */

/* Fills *options with the defaults of the given compatibility mode (the spec's table) and
 * sets struct_size. Errors: INVALID_ARGUMENT for a null options or unknown compatibility. */
NAB_API nab_status nab_group_options_init(nab_group_options* options, int32_t compatibility);

/* Checks options against the spec's table without creating anything. Errors:
 * INVALID_ARGUMENT naming the first invalid field and its value. */
NAB_API nab_status nab_group_options_validate(const nab_group_options* options);

/* Fills *config with the defaults (CPU, all cores, best SIMD) and sets struct_size.
 * Errors: INVALID_ARGUMENT for a null config. */
NAB_API nab_status nab_optimizer_config_init(nab_optimizer_config* config);

/* Checks a config's values (the same checks nab_optimizer_create makes before it looks at the
 * machine) without creating anything: device_type and simd_level defined, device_ordinal 0 for
 * the CPU and >= 0 for CUDA, 0 <= thread_count <= NAB_MAX_THREAD_COUNT. Whether this machine
 * has the SIMD level or device is for nab_optimizer_create to say. Errors: INVALID_ARGUMENT
 * naming the first invalid field and its value. */
NAB_API nab_status nab_optimizer_config_validate(const nab_optimizer_config* config);

/* The best SIMD level this CPU supports (never NAB_SIMD_AUTO). Thread-safe.
 * Errors: INVALID_ARGUMENT for a null out. */
NAB_API nab_status nab_cpu_get_best_simd_level(int32_t* out_level);

/* ---------------------------------------------------------------------------------------
 * Optimizer lifetime.
 * ------------------------------------------------------------------------------------- */

/* Creates an optimizer with no groups. On success *out_optimizer owns native memory and
 * worker threads until nab_optimizer_destroy. Errors: INVALID_ARGUMENT (null pointers, bad
 * struct_size, negative thread_count, unknown device_type or simd_level, nonzero ordinal on
 * the CPU), UNSUPPORTED (a SIMD level this CPU lacks; a device backend not built or no such
 * device), OUT_OF_MEMORY, DEVICE_ERROR. *out_optimizer is set to null on failure. */
NAB_API nab_status nab_optimizer_create(const nab_optimizer_config* config,
                                        nab_optimizer** out_optimizer);

/* Destroys an optimizer: joins its threads and frees its state. Null is accepted and does
 * nothing. The caller's parameter and gradient buffers are not touched. Errors: BUSY while
 * another thread's call is inside the optimizer (then nothing is freed; try again after it
 * returns), INVALID_ARGUMENT for a handle already destroyed or not from nab_optimizer_create. */
NAB_API nab_status nab_optimizer_destroy(nab_optimizer* optimizer);

/* ---------------------------------------------------------------------------------------
 * Execution settings.
 * ------------------------------------------------------------------------------------- */

/* Sets the number of CPU worker threads (0 = one per logical core, at most
 * NAB_MAX_THREAD_COUNT). Errors: INVALID_ARGUMENT (null optimizer, a count outside
 * 0..NAB_MAX_THREAD_COUNT, a CUDA optimizer), BUSY, OUT_OF_MEMORY. */
NAB_API nab_status nab_optimizer_set_thread_count(nab_optimizer* optimizer, int32_t thread_count);

/* The number of CPU threads a step uses (the resolved count, never 0; 1 for a CUDA
 * optimizer). */
NAB_API nab_status nab_optimizer_get_thread_count(nab_optimizer* optimizer, int32_t* out_count);

/* Chooses the CPU kernel's SIMD level. Errors: INVALID_ARGUMENT (unknown level, a CUDA
 * optimizer), UNSUPPORTED (the CPU lacks it), BUSY. */
NAB_API nab_status nab_optimizer_set_simd_level(nab_optimizer* optimizer, int32_t simd_level);

/* The SIMD level a step uses (resolved, never NAB_SIMD_AUTO; NAB_SIMD_AUTO for a CUDA
 * optimizer, where it does not apply). */
NAB_API nab_status nab_optimizer_get_simd_level(nab_optimizer* optimizer, int32_t* out_level);

/* ---------------------------------------------------------------------------------------
 * Groups.
 * ------------------------------------------------------------------------------------- */

/* Adds a parameter group with validated options; *out_group_id receives its id.
 * Errors: INVALID_ARGUMENT (null pointers, invalid options), BUSY, OUT_OF_MEMORY. */
NAB_API nab_status nab_optimizer_add_group(nab_optimizer* optimizer,
                                           const nab_group_options* options,
                                           uint32_t* out_group_id);

/* Number of groups. */
NAB_API nab_status nab_optimizer_get_group_count(nab_optimizer* optimizer, uint32_t* out_count);

/* Replaces a group's options (all of them, compatibility included) between steps. Turning
 * amsgrad on allocates a zeroed s_max for the group's tensors that lack one. Changing
 * state_encoding converts the state of the group's tensors whose encoding changes (decoded to
 * float32, or encoded with fresh block scales, as nab_optimizer_write_state does), through host
 * memory and into newly allocated arrays, so the call needs their size in free memory and
 * changes nothing if it fails. Errors: INVALID_ARGUMENT, NOT_FOUND (group id), BUSY,
 * OUT_OF_MEMORY, DEVICE_ERROR. */
NAB_API nab_status nab_optimizer_set_group_options(nab_optimizer* optimizer, uint32_t group_id,
                                                   const nab_group_options* options);

/* Copies a group's options into *out_options (whose struct_size the caller sets). */
NAB_API nab_status nab_optimizer_get_group_options(nab_optimizer* optimizer, uint32_t group_id,
                                                   nab_group_options* out_options);

/* Sets only the learning rate of a group (the scheduler's per-step call). Errors:
 * INVALID_ARGUMENT (negative or non-finite), NOT_FOUND, BUSY. */
NAB_API nab_status nab_optimizer_set_learning_rate(nab_optimizer* optimizer, uint32_t group_id,
                                                   double learning_rate);

/* ---------------------------------------------------------------------------------------
 * Tensors.
 * ------------------------------------------------------------------------------------- */

/* Adds a tensor to a group and allocates its zeroed state (m, s, and s_max when the group
 * has amsgrad on), step count 0; *out_tensor_id receives its id. The buffers stay the
 * caller's. Every byte of caller memory may be registered once, as one buffer of one tensor:
 * parameters and gradients that share memory with each other or with another tensor's
 * parameters or gradients are refused (an element registered twice would be stepped twice, or
 * raced between worker threads); the message names both tensors. The check costs O(log N) for
 * N registered tensors. Errors: INVALID_ARGUMENT (null pointers, zero element_count, bad
 * struct_size, overlapping memory), NOT_FOUND (group id), BUSY, OUT_OF_MEMORY. */
NAB_API nab_status nab_optimizer_add_tensor(nab_optimizer* optimizer, const nab_tensor_desc* tensor,
                                            uint32_t* out_tensor_id);

/* Number of tensors across all groups. */
NAB_API nab_status nab_optimizer_get_tensor_count(nab_optimizer* optimizer, uint32_t* out_count);

/* Describes a tensor into *out_info (whose struct_size the caller sets). A CUDA optimizer
 * waits for its stream to read the step count. */
NAB_API nab_status nab_optimizer_get_tensor_info(nab_optimizer* optimizer, uint32_t tensor_id,
                                                 nab_tensor_info* out_info);

/* Copies every tensor's step count t into out_steps[0 .. count - 1] (index = tensor id) in one
 * transfer: count must equal nab_optimizer_get_tensor_count's. A CUDA optimizer waits for its
 * stream once. Errors: INVALID_ARGUMENT (null out_steps with count > 0, count not the tensor
 * count), BUSY, DEVICE_ERROR. */
NAB_API nab_status nab_optimizer_get_step_counts(nab_optimizer* optimizer, int64_t* out_steps, uint32_t count);

/* Points a tensor at a new parameter buffer (same element count and dtype as registered; not
 * null; sharing no memory with any registered buffer but the one it replaces). A master copy,
 * if any, is re-initialised from the new parameters, widened exactly (as
 * nab_optimizer_initialize_master_parameters does): the next step starts from the values the
 * buffer holds. The buffer is read during the call (a CUDA optimizer queues the copy on its
 * stream). Threading: as every call on an optimizer. Errors change nothing: INVALID_ARGUMENT
 * (null, overlap; the message names both tensors), NOT_FOUND, BUSY, OUT_OF_MEMORY (the new
 * master copy is made before the old one is released), DEVICE_ERROR. */
NAB_API nab_status nab_optimizer_set_tensor_parameters(nab_optimizer* optimizer, uint32_t tensor_id,
                                                       void* parameters);

/* Points a tensor at a new gradient buffer (same dtype as registered; sharing no memory with
 * any registered buffer but the one it replaces), or null to skip the tensor in later steps.
 * Errors: INVALID_ARGUMENT (overlap; the message names both tensors), NOT_FOUND, BUSY. */
NAB_API nab_status nab_optimizer_set_tensor_gradients(nab_optimizer* optimizer, uint32_t tensor_id,
                                                      void* gradients);

/* Points every tensor at new gradient buffers in one call: gradients[i] is for tensor i (same
 * dtype as registered; sharing no memory with any tensor's parameters or any other new gradient
 * buffer: the new layout is checked as a whole, in O(N log N)), or null to skip tensor i in later steps;
 * count must equal nab_optimizer_get_tensor_count's. For engines whose gradients are reallocated
 * between steps (a TorchSharp or PyTorch loop that sets them to None): one call per step instead of
 * one per tensor. Every pointer is checked before any changes, so on error nothing changed; when
 * no pointer differs from the registered one nothing changes (a CUDA optimizer keeps its tables).
 * Errors: INVALID_ARGUMENT (null optimizer, null gradients with count > 0, count not the tensor
 * count, an overlapping buffer: the message names gradients[i] and the tensor it overlaps), BUSY. */
NAB_API nab_status nab_optimizer_set_gradients(nab_optimizer* optimizer, void* const* gradients, uint32_t count);

/* Sets a tensor's step count t (>= 0), e.g. when restoring a checkpoint. (A tensor at INT64_MAX
 * cannot step further: nab_optimizer_step refuses it on the CPU and skips the step on CUDA,
 * see nab_step_report.step_count_exhausted.) */
NAB_API nab_status nab_optimizer_set_tensor_step(nab_optimizer* optimizer, uint32_t tensor_id,
                                                 int64_t step);

/* Sets a tensor's float32 master copy (NAB_STATE_MASTER_PARAMETERS) to its 16-bit parameters,
 * widened exactly: what a caller does after writing new values into the parameters themselves
 * (loading pretrained weights, say), which the next step would otherwise overwrite with the
 * rounding of the old master copy. Values the master copy held beyond 16-bit precision are
 * dropped. Reads the caller's parameter buffer; a CUDA optimizer queues the copy on its
 * stream. Threading: as every call on an optimizer. Errors: INVALID_ARGUMENT (null optimizer;
 * a tensor without a master copy, naming tensor_id), NOT_FOUND (tensor id), BUSY,
 * DEVICE_ERROR. */
NAB_API nab_status nab_optimizer_initialize_master_parameters(nab_optimizer* optimizer, uint32_t tensor_id);

/* Copies element_count floats of one state array (nab_state_kind) into destination, which
 * the caller owns. element_count must equal the tensor's. m, s and s_max of a tensor with 8-bit
 * state are decoded (each code times its block's scale, rounded to float32). Errors:
 * INVALID_ARGUMENT (null, wrong count, unknown kind, an s_max or master copy that does not
 * exist), NOT_FOUND, BUSY. */
NAB_API nab_status nab_optimizer_read_state(nab_optimizer* optimizer, uint32_t tensor_id,
                                            int32_t state_kind, float* destination,
                                            uint64_t element_count);

/* ---------------------------------------------------------------------------------------
 * Restoring a whole state at once, all or nothing (what loading a checkpoint does). Begin,
 * stage the options of every group and the state of every tensor (each copied into new arrays
 * in the optimizer's memory and checked as it is staged), then commit: the optimizer either
 * takes everything staged or, on any error before or during commit, keeps exactly what it had.
 * Nothing the optimizer does changes while a restore is staged (steps and other calls work on
 * the current state); staging holds a second copy of the state until commit or abort. Each of
 * these takes the optimizer for its own call only (BUSY as any call).
 * ------------------------------------------------------------------------------------- */

/* Starts a restore, discarding any staged one. Errors: INVALID_ARGUMENT (null), BUSY. */
NAB_API nab_status nab_optimizer_begin_restore(nab_optimizer* optimizer);

/* Stages the options of one group (checked as nab_group_options_validate does). Errors:
 * INVALID_ARGUMENT (no restore begun, invalid options), NOT_FOUND (group id), BUSY. */
NAB_API nab_status nab_optimizer_restore_group(nab_optimizer* optimizer, uint32_t group_id,
                                               const nab_group_options* options);

/* Stages one tensor's state: copies its arrays into new arrays of the optimizer's memory
 * after checking their values (see nab_tensor_state; the message names the tensor and the
 * first bad element). m, s and s_max are always given as float32 values; a tensor whose state
 * is 8-bit under its group's staged (or else current) options stores them quantized, exactly as
 * nab_optimizer_write_state does, and the commit converts them again where a group staged later
 * changes the encoding. Values decoded from 8-bit codes (nab_state_decode) quantize back to the
 * same codes and scales wherever the block's scale is at least 2^-100 (smaller scales make some
 * decoded values float32 subnormals, which lose bits). Staging a tensor again replaces what was
 * staged for it. Errors:
 * INVALID_ARGUMENT (no restore begun, a bad struct, count, array or value), NOT_FOUND (tensor
 * id), OUT_OF_MEMORY, DEVICE_ERROR, BUSY. */
NAB_API nab_status nab_optimizer_restore_tensor(nab_optimizer* optimizer, uint32_t tensor_id,
                                                const nab_tensor_state* state);

/* Makes the staged state the optimizer's: every group's options, every tensor's m, s, s_max,
 * master copy and step count. Refused, with nothing changed and the restore still staged, when
 * a group or tensor was not staged, when groups or tensors were added since the restore began,
 * or when memory for a zeroed s_max or the step counts cannot be had; after the checks it
 * cannot fail. Errors: INVALID_ARGUMENT, OUT_OF_MEMORY, DEVICE_ERROR, BUSY. */
NAB_API nab_status nab_optimizer_commit_restore(nab_optimizer* optimizer);

/* Discards a staged restore (nothing staged: nothing to do) and frees its memory. Errors:
 * INVALID_ARGUMENT (null), BUSY. */
NAB_API nab_status nab_optimizer_abort_restore(nab_optimizer* optimizer);

/* Overwrites one state array from source (caller-owned, copied). Same rules as read_state;
 * writing s_max to a tensor that has none allocates it. Writing the master copy changes only
 * the master copy (the 16-bit parameters follow at the next step); a tensor without one
 * refuses it. m, s and s_max of a tensor with 8-bit state are encoded as a step stores them
 * (each block's scale from its largest value, each element the nearest code), so reading
 * them back gives the values rounded to 8 bits. */
NAB_API nab_status nab_optimizer_write_state(nab_optimizer* optimizer, uint32_t tensor_id,
                                             int32_t state_kind, const float* source,
                                             uint64_t element_count);

/* Copies the 8-bit codes (element_count bytes into out_codes) and block scales (scale_count
 * floats into out_scales) of m, s or s_max of a tensor whose state is
 * NAB_STATE_ENCODING_BLOCKWISE_8BIT, as they are: for tools, and checkpoints that keep the
 * state in 8 bits. element_count must equal the tensor's, scale_count its block count
 * (element_count / NAB_BLOCKWISE_8BIT_BLOCK_SIZE rounded up). Both buffers are the caller's.
 * nab_state_decode turns them into floats. A CUDA optimizer waits for its stream. Errors:
 * INVALID_ARGUMENT (null, wrong counts, a kind other than m, s or s_max, a tensor with float32
 * state, an s_max that does not exist), NOT_FOUND, BUSY, DEVICE_ERROR. */
NAB_API nab_status nab_optimizer_read_state_codes(nab_optimizer* optimizer, uint32_t tensor_id,
                                                  int32_t state_kind, uint8_t* out_codes,
                                                  uint64_t element_count, float* out_scales,
                                                  uint64_t scale_count);

/* Overwrites m, s or s_max of a tensor whose state is NAB_STATE_ENCODING_BLOCKWISE_8BIT with
 * codes and block scales as nab_optimizer_read_state_codes gives them (copied; the caller keeps
 * its buffers). Every code is valid; every scale must be one a block can have: 0, NaN, or
 * finite and at least 2^-126. Writing s_max to a tensor that has none allocates it.
 * Errors: as nab_optimizer_read_state_codes, and INVALID_ARGUMENT naming the first invalid
 * scale (scales[i]) and its value; nothing is written then. */
NAB_API nab_status nab_optimizer_write_state_codes(nab_optimizer* optimizer, uint32_t tensor_id,
                                                   int32_t state_kind, const uint8_t* codes,
                                                   uint64_t element_count, const float* scales,
                                                   uint64_t scale_count);

/* Decodes 8-bit state without an optimizer (a checkpoint's codes loaded into a float32
 * optimizer, tools): destination[i] = the value of codes[i] in the format state_kind uses
 * under state_encoding (m signed, s and s_max unsigned), times scales[i /
 * NAB_BLOCKWISE_8BIT_BLOCK_SIZE], as nab_optimizer_read_state decodes it. scale_count must be
 * the block count of element_count. All buffers are the caller's. Thread-safe. Errors:
 * INVALID_ARGUMENT (null with a count > 0, a state_encoding other than
 * NAB_STATE_ENCODING_BLOCKWISE_8BIT, a kind other than m, s or s_max, a wrong scale_count). */
NAB_API nab_status nab_state_decode(int32_t state_encoding, int32_t state_kind, const uint8_t* codes,
                                    uint64_t element_count, const float* scales, uint64_t scale_count,
                                    float* destination);

/* The name of the 8-bit format of one state array (state_kind m, s or s_max) under
 * state_encoding, e.g. for a checkpoint to record which map its codes use; a later library that
 * changes a format changes its name. Static storage; never free it. NULL for anything else
 * (NAB_STATE_ENCODING_FLOAT32, the master copy, unknown values). Thread-safe; cannot fail. */
NAB_API const char* nab_state_format_name(int32_t state_encoding, int32_t state_kind);

/* ---------------------------------------------------------------------------------------
 * The step.
 * ------------------------------------------------------------------------------------- */

/* Advances every tensor of every group that has a gradient by one step, in one fused pass
 * over all of them (chunked across the worker threads). Per tensor: gradient scaling (see
 * nab_step_options), weight decay, moments, step count t+1, parameter update, exactly as the
 * group's compatibility mode specifies. Tensors with a null gradient are skipped entirely.
 * When the step options ask for it, a fused gradient pass comes first (see nab_step_options)
 * and the step may be skipped as a whole. A CPU optimizer returns when the step is done; a
 * CUDA optimizer queues the gradient pass (if any), one planning launch and one fused launch
 * (per distinct combination of the template switches amsgrad / square / L2 among the groups)
 * on its stream and returns: the skip decision and the clipping factor stay on the device,
 * nothing waits for the host. Errors: INVALID_ARGUMENT (null; on the CPU, a tensor to be
 * stepped whose step count is already INT64_MAX, so t + 1 does not exist: a CUDA optimizer
 * checks that on the device and skips the step, see nab_step_report), BUSY, DEVICE_ERROR,
 * OUT_OF_MEMORY (tables after a layout change). Without skip_nonfinite, a non-finite
 * gradient propagates into that tensor's state. */
NAB_API nab_status nab_optimizer_step(nab_optimizer* optimizer);

/* Fills *options with the defaults (nothing checked, scale 1, no clipping) and sets
 * struct_size. Thread-safe. Errors: INVALID_ARGUMENT for a null options. */
NAB_API nab_status nab_step_options_init(nab_step_options* options);

/* Checks step options against their rules (see nab_step_options) without an optimizer.
 * Thread-safe. Errors: INVALID_ARGUMENT naming the first invalid field and its value. */
NAB_API nab_status nab_step_options_validate(const nab_step_options* options);

/* Sets the step options every later step uses (copied). On CUDA the new values are queued on
 * the stream, so a replayed CUDA graph sees them as it sees a new learning rate; but whether a
 * step makes the gradient pass at all is fixed when the graph is captured: a graph captured
 * without any check keeps stepping unchecked (its reports say gradients_checked = 0) until it
 * is captured again with the checks on. Errors:
 * INVALID_ARGUMENT naming the first invalid field and its value, BUSY, DEVICE_ERROR. */
NAB_API nab_status nab_optimizer_set_step_options(nab_optimizer* optimizer, const nab_step_options* options);

/* Copies the step options in force into *out_options (whose struct_size the caller sets). */
NAB_API nab_status nab_optimizer_get_step_options(nab_optimizer* optimizer, nab_step_options* out_options);

/* Describes what the last step did with the gradients (*out_report's struct_size set by the
 * caller). Before any step: nothing checked, not skipped, scale 1, step_calls 0. A CUDA
 * optimizer waits for its stream and copies the report from the device (this is the one
 * host synchronisation of a loss-scaled CUDA loop; a caller that does not need the report
 * every step calls this less often). Errors: INVALID_ARGUMENT, BUSY, DEVICE_ERROR, and
 * INVALID_ARGUMENT for a CUDA stream that is being captured. */
NAB_API nab_status nab_optimizer_get_last_step_report(nab_optimizer* optimizer, nab_step_report* out_report);

/* Sets every registered (non-null) gradient buffer to zero (all bits 0, any dtype) in one
 * fused pass (one launch on CUDA). Errors: as nab_optimizer_step. */
NAB_API nab_status nab_optimizer_zero_gradients(nab_optimizer* optimizer);

/* The NaN/Inf policy's opt-in check: counts the elements of every registered (non-null)
 * gradient buffer that are NaN, +Inf or -Inf, in one fused read-only pass over all of them
 * (chunked across the worker threads on the CPU; one reduction launch on CUDA), and writes
 * the total to *out_count (0 means every gradient is finite). Nothing is written but
 * *out_count: no gradient, parameter, state array or step count changes.
 *
 * A step checks its gradients only when its step options ask for it (skip_nonfinite, which
 * does this count fused with the step and skips automatically, without a host round trip on
 * CUDA); otherwise a non-finite gradient element turns that element's m, s (and s_max) and
 * parameter non-finite. This function is the stand-alone check for callers that decide
 * themselves.
 *
 * Cost: one read of every gradient byte (4 or 2 bytes per element). Threading: as every call on an optimizer (BUSY if another thread is inside it).
 * A CUDA optimizer queues the reduction on its stream after the work queued before it and
 * waits for the result, so the call is synchronous there too; it cannot be captured in a
 * CUDA graph. Errors: INVALID_ARGUMENT (null optimizer or out_count), BUSY, DEVICE_ERROR,
 * OUT_OF_MEMORY (CUDA tables after a layout change), and INVALID_ARGUMENT for a CUDA stream
 * that is being captured; *out_count is left unchanged on error. */
NAB_API nab_status nab_optimizer_count_nonfinite_gradients(nab_optimizer* optimizer, uint64_t* out_count);

/* The same check over what the steps wrote: counts the NaN, +Inf and -Inf values among every
 * tensor's parameters (the float32 master copy for a tensor that has one, else its parameters
 * in their own element type) into *out_count. Finite gradients and valid options keep the
 * parameters finite, with one exception the originals share: epsilon = 0 (or one that is 0 as a
 * float32) with a gradient that stays exactly 0 divides 0 by 0. Use this to find where a NaN came
 * from. Read-only; one pass over every parameter (4 bytes per float32 element, 2 per 16-bit one);
 * synchronous on CUDA like nab_optimizer_count_nonfinite_gradients. Errors: as
 * nab_optimizer_count_nonfinite_gradients. */
NAB_API nab_status nab_optimizer_count_nonfinite_parameters(nab_optimizer* optimizer, uint64_t* out_count);

/* Waits until every step, zeroing and state transfer queued on this optimizer has finished
 * (CUDA optimizers run asynchronously on their stream; for a CPU optimizer every call has
 * already finished, and this returns at once). Errors: INVALID_ARGUMENT (null), BUSY,
 * DEVICE_ERROR with the CUDA error text of a failed kernel. */
NAB_API nab_status nab_optimizer_synchronize(nab_optimizer* optimizer);

/* ---------------------------------------------------------------------------------------
 * The gradient pass in chunks: for callers that split one model's tensors across several
 * optimizers (data-parallel training with sharded optimizer state, where each process steps
 * a contiguous part of every tensor, registered as its own tensor) and need the decision of
 * nab_step_options (skip, clipping, the norm) taken over the whole model, identically
 * everywhere. Each part computes its chunk totals, the caller gathers every part's totals in
 * the model's order, and every part steps with all of them: the totals are added in the order
 * given, exactly as one optimizer holding the whole model adds its own, so the decision and
 * the norm are bit-identical to that optimizer's when the parts start at multiples of
 * NAB_GRADIENT_CHUNK_ELEMENTS into their tensors (see that constant). CPU optimizers only:
 * a CUDA optimizer's pass is cut by thread blocks and these return UNSUPPORTED.
 * ------------------------------------------------------------------------------------- */

/* The number of chunks the gradient pass cuts this optimizer's registered gradients into: the
 * sum, over the tensors that have gradients, of ceil(element_count /
 * NAB_GRADIENT_CHUNK_ELEMENTS). Threading: as every call on an optimizer. Errors:
 * INVALID_ARGUMENT (null), BUSY, UNSUPPORTED (a CUDA optimizer). */
NAB_API nab_status nab_optimizer_get_gradient_chunk_count(nab_optimizer* optimizer, uint64_t* out_count);

/* The gradient pass alone (read-only: nothing changes), per chunk: writes each chunk's sum of
 * squares (in double, of the gradients as stored, before any scale) and its number of NaN and
 * +-Inf elements into out_sums_of_squares[i] and out_nonfinite_counts[i], chunks in the pass's
 * order (tensor id order, then element order). Both arrays are the caller's and must hold
 * chunk_count elements, which must equal nab_optimizer_get_gradient_chunk_count's (0 with null
 * arrays when no tensor has gradients). Threading: as every call on an optimizer; the pass runs
 * on the optimizer's worker threads and its values do not depend on the thread count or SIMD
 * level. Errors: INVALID_ARGUMENT (null optimizer, a
 * null array with chunk_count > 0, chunk_count not the chunk count: the message says the right
 * one), BUSY, UNSUPPORTED (a CUDA optimizer); the arrays are left unchanged on error. */
NAB_API nab_status nab_optimizer_compute_gradient_chunk_statistics(nab_optimizer* optimizer,
                                                                  double* out_sums_of_squares,
                                                                  uint64_t* out_nonfinite_counts,
                                                                  uint64_t chunk_count);

/* nab_optimizer_step, except that the step makes no gradient pass of its own: when its step
 * options ask for one, it takes the totals of the chunks given here instead (any number,
 * typically every part's chunks of a sharded model in the model's order), adds them in the
 * order given and decides the skip, the clipping factor and the norm from that sum exactly as
 * nab_optimizer_step decides from its own pass; when the step options ask for no pass, the
 * totals are not read. Both arrays are the caller's and are only read; they may be null when
 * chunk_count is 0. Threading and the rest of the step: as nab_optimizer_step (a skipped step
 * changes nothing; nab_optimizer_get_last_step_report reports the decision, gradients_checked
 * = 1). Errors: as nab_optimizer_step, INVALID_ARGUMENT for a null array with chunk_count > 0,
 * UNSUPPORTED (a CUDA optimizer). */
NAB_API nab_status nab_optimizer_step_with_gradient_statistics(nab_optimizer* optimizer,
                                                              const double* sums_of_squares,
                                                              const uint64_t* nonfinite_counts,
                                                              uint64_t chunk_count);

/* ---------------------------------------------------------------------------------------
 * CUDA. A CUDA optimizer (config.device_type = NAB_DEVICE_CUDA) keeps m, s and s_max in
 * device memory and steps parameter and gradient buffers that must be device memory of its
 * device (the library's own buffers below, or another engine's tensors). Its steps are
 * queued on its stream and return without waiting; read_state, write_state,
 * get_tensor_info and nab_optimizer_synchronize wait for the stream.
 *
 * CUDA graphs: after one eager step (which uploads the tensor tables), the step (and the
 * zeroing) may be captured and replayed; the step counts, group options and step options live on
 * the device, and nab_optimizer_set_learning_rate / nab_optimizer_set_step_options between
 * replays are seen by the next replay. Any other change (tensors, buffers, group options, state
 * written) requires a new capture: a graph captured before it does nothing when replayed after it
 * (its report says stale_graph). While the optimizer's stream is being captured, every call that
 * would allocate, copy, wait, change the layout or be captured by mistake (adding tensors,
 * reading or writing state, setting a learning rate or step options, counting, synchronising) is
 * refused with INVALID_ARGUMENT before it touches the stream, so the caller's capture stays
 * valid.
 *
 * The CUDA runtime is linked statically: the library loads and runs on the CPU on machines
 * without an NVIDIA driver, where these functions report no devices or DEVICE_ERROR.
 * ------------------------------------------------------------------------------------- */

/* The number of CUDA devices visible to this process: 0 without a driver, without a device,
 * or when the library was built without CUDA. Thread-safe. Errors: INVALID_ARGUMENT (null). */
NAB_API nab_status nab_cuda_get_device_count(int32_t* out_count);

/* Makes the optimizer queue its work on `stream` (a cudaStream_t; null = the legacy default
 * stream, the initial setting). Waits for work queued on the previous stream first. The
 * stream must outlive its use by this optimizer. Errors: INVALID_ARGUMENT (null optimizer,
 * CPU optimizer), BUSY, DEVICE_ERROR. */
NAB_API nab_status nab_optimizer_set_cuda_stream(nab_optimizer* optimizer, void* stream);

/* Allocates element_count zeroed elements of `dtype` (nab_dtype) of device memory on
 * device_ordinal, for parameters and gradients of any element type; *out_data owns it until
 * nab_cuda_buffer_free. Thread-safe. Errors: INVALID_ARGUMENT (null, zero count, unknown dtype,
 * no such device), OUT_OF_MEMORY, UNSUPPORTED (no CUDA in this build), DEVICE_ERROR. */
NAB_API nab_status nab_cuda_buffer_allocate(int32_t device_ordinal, int32_t dtype, uint64_t element_count,
                                            void** out_data);

/* Frees a buffer from nab_cuda_buffer_allocate (null accepted). Waits for the device. Errors:
 * INVALID_ARGUMENT naming "data" for a pointer that is not a live buffer from
 * nab_cuda_buffer_allocate, DEVICE_ERROR. */
NAB_API nab_status nab_cuda_buffer_free(void* data);

/* Copies byte_count bytes (any element type) from host memory to device memory,
 * synchronously. Errors: INVALID_ARGUMENT (null, zero count), UNSUPPORTED, DEVICE_ERROR. */
NAB_API nab_status nab_cuda_copy_to_device(void* device_destination, const void* host_source, uint64_t byte_count);

/* Copies byte_count bytes from device memory to host memory, synchronously. Errors as
 * nab_cuda_copy_to_device. */
NAB_API nab_status nab_cuda_copy_to_host(void* host_destination, const void* device_source, uint64_t byte_count);

/* ---------------------------------------------------------------------------------------
 * Native buffers: 64-byte aligned arrays for callers without their own allocator.
 * ------------------------------------------------------------------------------------- */

/* Allocates element_count zeroed elements of `dtype` (nab_dtype), 64-byte aligned, for
 * parameters and gradients of any element type; *out_data owns them until nab_buffer_free.
 * On Linux a buffer of 2 MiB or more is mapped on its own, aligned to 2 MiB and advised to use
 * transparent huge pages, as the optimizer's own state is (fewer TLB misses when a step
 * streams it; the advice is ignored where THP is off). Thread-safe. Errors: INVALID_ARGUMENT (null, zero count, unknown dtype, overflow),
 * OUT_OF_MEMORY. */
NAB_API nab_status nab_buffer_allocate(int32_t dtype, uint64_t element_count, void** out_data);

/* Frees a buffer from nab_buffer_allocate (null accepted). Thread-safe. The buffer must not be
 * registered with a live optimizer that will still step it. Errors: INVALID_ARGUMENT naming
 * "data" for a pointer that is not a live buffer from nab_buffer_allocate (freed already, never
 * allocated here, or a CUDA buffer). */
NAB_API nab_status nab_buffer_free(void* data);

/* Bytes of host memory this library currently holds in state arrays, step counts and native
 * buffers, each block counted with its alignment padding (device memory is not counted). Thread-safe. For leak checks: it returns to its earlier value when everything
 * created since is destroyed. */
NAB_API nab_status nab_get_allocated_bytes(uint64_t* out_bytes);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NATIVE_ADABELIEF_H */
