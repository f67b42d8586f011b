using System.Diagnostics;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.Reliability;

/// <summary>
/// Thousands of optimizer lifetimes — groups, tensors in every memory kind, steps, option changes
/// that allocate s_max, state writes, checkpoints, refused calls — must leave the native library's
/// own allocation counter and the process's thread count where they started.
/// </summary>
public sealed class LeakTests
{
    private const int Lifetimes = 5000;

    private static long SettledAllocatedBytes()
    {
        // Optimizers abandoned by earlier tests free their memory on the finalizer thread.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return NativeAdaBeliefLibrary.AllocatedBytes;
    }

    private static int ThreadCount()
    {
        using Process process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    [Fact]
    public void Thousands_of_create_step_dispose_cycles_return_native_memory_and_threads_to_the_start()
    {
        long bytesBefore = SettledAllocatedBytes();
        int threadsBefore = ThreadCount();
        var random = new Random(2024);
        long peak = 0;

        for (int life = 0; life < Lifetimes; life++)
        {
            var config = new OptimizerConfig { ThreadCount = 1 + life % 3 };
            using var optimizer = new AdaBeliefOptimizer(config);
            ParameterGroup labml = optimizer.AddParamGroup(new AdaBeliefOptions { WeightDecay = 1e-2 });
            ParameterGroup pytorch = optimizer.AddParamGroup(AdaBeliefOptions.ForAdaBeliefPytorch(2e-3) with { AmsGrad = life % 2 == 0 });

            var storages = new List<TensorStorage>();
            try
            {
                int tensors = 1 + life % 4;
                for (int t = 0; t < tensors; t++)
                {
                    var storage = new TensorStorage((MemoryKind)((life + t) % 3), TestData.Parameters(random, 1 + random.Next(300)));
                    storages.Add(storage);
                    storage.Register(t % 2 == 0 ? labml : pytorch);
                    TestData.Gradients(random, storage.Gradients);
                }

                optimizer.Step();
                if (life % 5 == 0)
                {
                    // Turning AMSGrad on allocates s_max; writing state and more steps.
                    labml.Options = labml.Options with { AmsGrad = true };
                    OptimizerTensor first = optimizer.Tensors[0];
                    first.WriteState(StateKind.MaxSecondMoment, new float[first.Length]);
                }
                optimizer.Step();
                optimizer.ZeroGrad();
                Assert.Equal(0, optimizer.CountNonFiniteGradients());

                // Refused calls must not leak either.
                Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.Tensors[0].Step = -1);
                Assert.ThrowsAny<ArgumentException>(() => labml.AddTensor(new float[4], new float[3]));

                if (life % 100 == 0)
                {
                    var file = new MemoryStream();
                    optimizer.SaveCheckpoint(file);
                    file.Position = 0;
                    optimizer.LoadCheckpoint(file);
                    Assert.Throws<InvalidDataException>(() => optimizer.LoadCheckpoint(new MemoryStream(file.ToArray()[..^1])));
                }
                peak = Math.Max(peak, NativeAdaBeliefLibrary.AllocatedBytes);
            }
            finally
            {
                optimizer.Dispose();
                foreach (TensorStorage s in storages)
                {
                    s.Dispose();
                }
            }
        }

        Assert.True(peak > bytesBefore, "the cycles allocated nothing: the test measures nothing");
        Assert.Equal(bytesBefore, SettledAllocatedBytes());
        // Each optimizer ran up to two worker threads; all of them must have been joined.
        Assert.InRange(ThreadCount(), 0, threadsBefore + 4);
    }
}
