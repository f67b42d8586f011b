using System.Diagnostics;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// What the ranks refuse together: models that differ between ranks and arguments one rank
/// refuses (every rank throws the same message, and the ranks stay in step: a barrier after each
/// refusal completes), and a rank that dies (the others fail with an error after the
/// communicator's timeout instead of hanging).
/// </summary>
internal static class RefusalScenarios
{
    /// <summary><c>mismatch</c>: three refusals the last rank provokes.</summary>
    internal static void Mismatch(Communicator communicator, Args args)
    {
        bool last = communicator.Rank == communicator.Size - 1;
        int lastRank = communicator.Size - 1;
        TensorSpec[] specs = TestModel.Specs(Precision.Float32);

        TensorSpec[] longer = [.. specs.Select((spec, t) => last && t == 3 ? spec with { Length = spec.Length + 1 } : spec)];
        Refused(communicator, specs: longer, TestModel.GroupOptions(),
            [$"rank 0 has 'tensor 3 (t3): 40000 elements", $"where rank {lastRank} has 'tensor 3 (t3): 40001 elements"]);

        AdaBeliefOptions[] groups = TestModel.GroupOptions();
        if (last)
        {
            groups[0] = groups[0] with { Beta1 = 2 };
        }
        Refused(communicator, specs, groups, [$"Rank {lastRank} of {communicator.Size} refused the optimizer's arguments", "Beta1 = 2"]);

        TensorSpec[] regrouped = [.. specs.Select((spec, t) => last && t == 4 ? spec with { Group = 5 } : spec)];
        Refused(communicator, regrouped, TestModel.GroupOptions(), ["tensor 4 (t4) is in group 5, but there are 2 group(s)"]);
        Console.WriteLine($"rank {communicator.Rank}: mismatch OK: three kinds of difference refused on every rank with the same message, the ranks still in step");
    }

    /// <summary>
    /// <c>dead-rank --mode kill|hang --timeout S</c>: after two steps the last rank kills itself
    /// (kill: for launchers that let the others run on, such as Open MPI's with --enable-recovery)
    /// or stops taking part without exiting (hang: MPICH's launcher would otherwise end the job
    /// itself when a rank dies). Every other rank's next step must throw a
    /// <see cref="CommunicatorException"/> (a timeout, or MPI's own error if it notices), the
    /// communicator must refuse further use, and with a hung rank <see cref="Communicator.Abort"/>
    /// must end the job.
    /// </summary>
    internal static void DeadRank(Communicator communicator, Args args)
    {
        bool hang = args.Text("mode", "kill") == "hang";
        using var space = new ParameterSpace(TestModel.Specs(Precision.Float32));
        TestModel.Initialize(space, 5);
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestModel.GroupOptions());
        for (int step = 1; step <= 2; step++)
        {
            TestModel.WriteGradients(space, 5, communicator.Rank, communicator.Size, step, nanStep: 0);
            optimizer.Step();
        }
        if (communicator.Rank == communicator.Size - 1)
        {
            Console.WriteLine($"rank {communicator.Rank}: {(hang ? "stops taking part" : "dies")} now");
            Console.Out.Flush();
            if (hang)
            {
                Thread.Sleep(Timeout.Infinite);
            }
            Process.GetCurrentProcess().Kill();
        }
        var clock = Stopwatch.StartNew();
        try
        {
            optimizer.Step();
            optimizer.Step();
        }
        catch (CommunicatorException e)
        {
            bool refusedAfterwards = false;
            try
            {
                communicator.Barrier();
            }
            catch (CommunicatorException)
            {
                refusedAfterwards = true;
            }
            ScenarioFailure.Require(refusedAfterwards, "the failed communicator accepted another call");
            Console.WriteLine($"rank {communicator.Rank}: dead-rank OK after {clock.Elapsed.TotalSeconds:F1} s: {e.GetType().Name}: {e.Message}");
            if (hang)
            {
                Console.WriteLine($"rank {communicator.Rank}: aborting the job");
                communicator.Abort(3);
            }
            return;
        }
        throw new ScenarioFailure("steps after a rank died completed");
    }

    /// <summary>Constructing with these arguments must fail on every rank with one message containing every fragment.</summary>
    private static void Refused(Communicator communicator, TensorSpec[] specs, AdaBeliefOptions[] groups, string[] fragments)
    {
        using var space = new ParameterSpace(specs);
        string message = "";
        try
        {
            using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, groups);
        }
        catch (ArgumentException e)
        {
            message = e.Message;
        }
        foreach (string fragment in fragments)
        {
            ScenarioFailure.Require(message.Contains(fragment, StringComparison.Ordinal),
                $"the refusal '{message}' does not say '{fragment}'");
        }
        ScenarioFailure.Require(ScenarioFailure.SameOnEveryRank(communicator, message), $"the ranks refused with different messages (this one: {message})");
        communicator.Barrier();
    }
}
