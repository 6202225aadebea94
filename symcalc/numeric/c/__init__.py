"""The C back end: a program's per-sample loss and gradients as one fused C loop.

`NumericModel` evaluates a model in three ways, fastest first: this kernel, the
batch module `codegen` writes, and the lambdified program. The kernel
is printed from the same stable SymPy expressions and cse temporaries as the
others, so it computes the same formulas. The loop goes once over the samples:
each sample's inputs are read, its loss and every gradient computed in
registers, and added to per-block sums, so there is no temporary array at all
and one exp(−|u|) feeds both σ(u) and softplus(u) (the C compiler merges the
two calls). With GCC on x86-64 the loop is vectorised and exp, log1p and the
other functions come from glibc's vector math library (libmvec).

Kernels are compiled with the system C compiler (`cc`, or `$CC`) once per
program and machine and kept in a cache directory (`$SYMCALC_CACHE_DIR`, else
`$XDG_CACHE_HOME/symcalc`, else `~/.cache/symcalc`) with their C source beside
them. Nothing a user wrote reaches the C text: every name is replaced by a
generated one and every number is written as the double it rounds to. Above
`PARALLEL_MIN` samples the blocks are shared among OpenMP threads (one thread in
a process forked from this one: OpenMP's threads do not survive fork). Where
there is no compiler, or it fails, `compile_kernel` raises `NativeUnavailable`
and the batch module is used; `NumericModel.backend` tells which one runs.

Three modules, one job each: `source` prints the kernel's C text, `build` compiles
it (toolchains, the private cache, bounded compiler runs), `kernel` loads and
calls it through ctypes.
"""
