using System.Numerics;
using System.Runtime.CompilerServices;

namespace NativeAdaBelief.Demo.Model;

/// <summary>
/// Row-major float32 matrix products with SIMD (<see cref="Vector{T}"/>: AVX2 on x64, NEON on
/// arm64): a register-tiled 4×(2 vectors) kernel over B packed into column panels.
/// </summary>
/// <remarks>
/// Deterministic by construction: every element of C is computed by exactly one thread, summing
/// over k in order, so the result does not depend on the thread count or the scheduling (the
/// checkpoint/resume guarantee relies on this).
/// </remarks>
internal static unsafe class Gemm
{
    private const int RowTile = 4;

    /// <summary>Columns per packed panel: two SIMD vectors.</summary>
    public static int PanelWidth { get; } = 2 * Vector<float>.Count;

    /// <summary>Floats needed to pack a K×N matrix (the last panel is zero-padded).</summary>
    public static int PackedLength(int k, int n) => (n + PanelWidth - 1) / PanelWidth * k * PanelWidth;

    /// <summary>
    /// Packs the K×N matrix B, whose element (kk, j) is at <c>source[kk * strideK + j * strideN]</c>,
    /// into column panels: panel p holds B[kk, p·NR + j] at <c>packed[(p·K + kk)·NR + j]</c>.
    /// strideK = N, strideN = 1 packs B itself; strideK = 1, strideN = K packs the transpose of a
    /// N×K row-major matrix.
    /// </summary>
    public static void Pack(float* source, int k, int n, int strideK, int strideN, float* packed)
    {
        int nr = PanelWidth;
        int panels = (n + nr - 1) / nr;
        for (int p = 0; p < panels; p++)
        {
            int col0 = p * nr;
            int cols = Math.Min(nr, n - col0);
            float* dst = packed + (long)p * k * nr;
            if (strideN == 1)
            {
                for (int kk = 0; kk < k; kk++)
                {
                    float* src = source + (long)kk * strideK + col0;
                    float* row = dst + (long)kk * nr;
                    int j = 0;
                    for (; j < cols; j++)
                    {
                        row[j] = src[j];
                    }
                    for (; j < nr; j++)
                    {
                        row[j] = 0f;
                    }
                }
            }
            else
            {
                // Transposed source: walk it row by row (contiguous in kk) for locality.
                for (int j = 0; j < nr; j++)
                {
                    if (j < cols)
                    {
                        float* src = source + (long)(col0 + j) * strideN;
                        for (int kk = 0; kk < k; kk++)
                        {
                            dst[(long)kk * nr + j] = src[(long)kk * strideK];
                        }
                    }
                    else
                    {
                        for (int kk = 0; kk < k; kk++)
                        {
                            dst[(long)kk * nr + j] = 0f;
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// C[M×N] = A[M×K] · B (+ bias on every row when <paramref name="bias"/> is not null), with B
    /// already packed by <see cref="Pack"/>. C's rows are <paramref name="ldc"/> apart.
    /// </summary>
    public static void Multiply(float* a, int m, int k, float* packedB, int n, float* c, int ldc, float* bias, int threads)
    {
        int rowBlocks = (m + RowTile - 1) / RowTile;
        threads = Math.Max(1, threads);
        // Enough chunks to balance the threads, each with real work (≥ 64k multiply-adds).
        long macsPerBlock = Math.Max(1L, (long)RowTile * k * n);
        int forBalance = (rowBlocks + threads * 4 - 1) / (threads * 4);
        int forWork = (int)Math.Min(rowBlocks, (65536 + macsPerBlock - 1) / macsPerBlock);
        int blocksPerChunk = Math.Max(1, Math.Max(forBalance, forWork));
        int chunks = (rowBlocks + blocksPerChunk - 1) / blocksPerChunk;

        if (threads == 1 || chunks == 1)
        {
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                MultiplyChunk(a, m, k, packedB, n, c, ldc, bias, chunk * blocksPerChunk, blocksPerChunk);
            }
            return;
        }

        nint pa = (nint)a, pb = (nint)packedB, pc = (nint)c, pbias = (nint)bias;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, chunk =>
            MultiplyChunk((float*)pa, m, k, (float*)pb, n, (float*)pc, ldc, (float*)pbias, chunk * blocksPerChunk, blocksPerChunk));
    }

    private static void MultiplyChunk(float* a, int m, int k, float* packedB, int n, float* c, int ldc, float* bias,
        int firstBlock, int blockCount)
    {
        int nr = PanelWidth;
        int panels = (n + nr - 1) / nr;
        int rowStart = firstBlock * RowTile;
        int rowEnd = Math.Min(m, (firstBlock + blockCount) * RowTile);
        for (int p = 0; p < panels; p++)
        {
            float* panel = packedB + (long)p * k * nr;
            int col0 = p * nr;
            int cols = Math.Min(nr, n - col0);
            float* panelBias = bias == null ? null : bias + col0;
            int row = rowStart;
            for (; row + RowTile <= rowEnd; row += RowTile)
            {
                Kernel4(a + (long)row * k, k, panel, c + (long)row * ldc + col0, ldc, cols, panelBias);
            }
            for (; row < rowEnd; row++)
            {
                Kernel1(a + (long)row * k, k, panel, c + (long)row * ldc + col0, cols, panelBias);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Fma(Vector<float> x, Vector<float> y, Vector<float> acc) =>
        Vector.MultiplyAddEstimate(x, y, acc);

    /// <summary>Four rows of A (K apart) times one packed panel.</summary>
    private static void Kernel4(float* a, int k, float* panel, float* c, int ldc, int cols, float* bias)
    {
        int w = Vector<float>.Count;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector<float> c20 = default, c21 = default, c30 = default, c31 = default;
        float* a0 = a, a1 = a + k, a2 = a + 2 * k, a3 = a + 3 * k;
        float* b = panel;
        for (int kk = 0; kk < k; kk++, b += 2 * w)
        {
            Vector<float> b0 = Vector.Load(b);
            Vector<float> b1 = Vector.Load(b + w);
            var x = new Vector<float>(a0[kk]);
            c00 = Fma(x, b0, c00);
            c01 = Fma(x, b1, c01);
            x = new Vector<float>(a1[kk]);
            c10 = Fma(x, b0, c10);
            c11 = Fma(x, b1, c11);
            x = new Vector<float>(a2[kk]);
            c20 = Fma(x, b0, c20);
            c21 = Fma(x, b1, c21);
            x = new Vector<float>(a3[kk]);
            c30 = Fma(x, b0, c30);
            c31 = Fma(x, b1, c31);
        }
        Store(c, cols, bias, c00, c01);
        Store(c + ldc, cols, bias, c10, c11);
        Store(c + 2 * ldc, cols, bias, c20, c21);
        Store(c + 3 * ldc, cols, bias, c30, c31);
    }

    /// <summary>One row of A times one packed panel (the rows left over after the 4-row tiles).</summary>
    private static void Kernel1(float* a, int k, float* panel, float* c, int cols, float* bias)
    {
        int w = Vector<float>.Count;
        Vector<float> c0 = default, c1 = default;
        float* b = panel;
        for (int kk = 0; kk < k; kk++, b += 2 * w)
        {
            var x = new Vector<float>(a[kk]);
            c0 = Fma(x, Vector.Load(b), c0);
            c1 = Fma(x, Vector.Load(b + w), c1);
        }
        Store(c, cols, bias, c0, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, int cols, float* bias, Vector<float> v0, Vector<float> v1)
    {
        int w = Vector<float>.Count;
        if (cols == 2 * w)
        {
            if (bias != null)
            {
                v0 += Vector.Load(bias);
                v1 += Vector.Load(bias + w);
            }
            v0.Store(c);
            v1.Store(c + w);
            return;
        }
        float* spill = stackalloc float[2 * w];
        v0.Store(spill);
        v1.Store(spill + w);
        for (int j = 0; j < cols; j++)
        {
            c[j] = bias == null ? spill[j] : spill[j] + bias[j];
        }
    }

    /// <summary>dst[cols×rows] = srcᵀ for a row-major src[rows×cols].</summary>
    public static void Transpose(float* src, int rows, int cols, float* dst)
    {
        const int Block = 32;
        for (int r0 = 0; r0 < rows; r0 += Block)
        {
            int r1 = Math.Min(rows, r0 + Block);
            for (int c0 = 0; c0 < cols; c0 += Block)
            {
                int c1 = Math.Min(cols, c0 + Block);
                for (int r = r0; r < r1; r++)
                {
                    float* s = src + (long)r * cols;
                    for (int col = c0; col < c1; col++)
                    {
                        dst[(long)col * rows + r] = s[col];
                    }
                }
            }
        }
    }
}
