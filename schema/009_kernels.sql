-- 009_kernels.sql — the GEMM kernels a score run ran on ('avx512', 'avx2' or
-- 'generic', chosen for the CPU when the model loads): scores made on
-- different CPU types may differ in their last bits (README: heterogeneous
-- nodes). NULL for every other run, and for runs made before.
ALTER TABLE runs ADD COLUMN gemm_kernels TEXT;
