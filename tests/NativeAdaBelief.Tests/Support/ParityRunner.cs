using NativeAdaBelief.Tests.Reference;

namespace NativeAdaBelief.Tests.Support;

/// <summary>Runs a scenario on the native optimizer and on the float64 reference, in lockstep, and compares.</summary>
internal static class ParityRunner
{
    /// <summary>Runs and compares; a failure's message starts with the scenario (seed included) to reproduce it.</summary>
    public static void RunAndCompare(ParityScenario scenario)
    {
        try
        {
            Run(scenario);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{scenario}{e.Message}", e);
        }
    }

    private static void Run(ParityScenario scenario)
    {
        var random = new Random(scenario.Seed);
        var reference = new ReferenceAdaBelief();
        using var optimizer = new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = scenario.ThreadCount });
        var storages = new List<TensorStorage>();
        try
        {
            foreach (AdaBeliefOptions options in scenario.Groups)
            {
                optimizer.AddParamGroup(options);
                reference.AddGroup(options);
            }
            var tensors = new List<OptimizerTensor>();
            foreach (ScenarioTensor spec in scenario.Tensors)
            {
                float[] initial = TestData.Parameters(random, spec.Length);
                var storage = new TensorStorage(spec.Memory, initial);
                storages.Add(storage);
                tensors.Add(storage.Register(optimizer.ParamGroups[spec.Group]));
                reference.AddTensor(spec.Group, initial);
            }

            var present = new bool[tensors.Count];
            Array.Fill(present, true);
            var gradients = new float[]?[tensors.Count];
            for (int step = 1; step <= scenario.Steps; step++)
            {
                if (scenario.OptionsLater is { } later && step == scenario.Steps / 2 + 1)
                {
                    for (int g = 0; g < later.Length; g++)
                    {
                        optimizer.ParamGroups[g].Options = later[g];
                        reference.SetOptions(g, later[g]);
                    }
                }
                for (int g = 0; g < scenario.Groups.Length; g++)
                {
                    if (random.NextDouble() < scenario.LearningRateChange)
                    {
                        double lr = reference.Groups[g].LearningRate * (0.5 + random.NextDouble());
                        optimizer.ParamGroups[g].LearningRate = lr;
                        reference.SetLearningRate(g, lr);
                    }
                }
                for (int i = 0; i < tensors.Count; i++)
                {
                    bool has = random.NextDouble() < scenario.GradientPresence;
                    if (has)
                    {
                        TestData.Gradients(random, storages[i].Gradients);
                        gradients[i] = storages[i].Gradients.ToArray();
                        if (!present[i])
                        {
                            storages[i].AttachGradients(tensors[i]);
                        }
                    }
                    else
                    {
                        gradients[i] = null;
                        if (present[i])
                        {
                            tensors[i].ClearGradients();
                        }
                    }
                    present[i] = has;
                }
                optimizer.Step();
                reference.Step(gradients);
            }

            Compare(scenario, tensors, storages, reference);
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

    public static void Compare(ParityScenario scenario, List<OptimizerTensor> tensors, List<TensorStorage> storages, ReferenceAdaBelief reference)
    {
        for (int i = 0; i < tensors.Count; i++)
        {
            ReferenceTensor expected = reference.Tensors[i];
            OptimizerTensor actual = tensors[i];
            string where = $"tensor {i} (group {expected.Group}, {expected.Length} elements) after {scenario.Steps} steps";
            Assert.True(expected.Step == actual.Step, $"{where}: step count native {actual.Step}, reference {expected.Step}");
            Tolerance.AssertParameters($"{where}: theta", storages[i].Parameters, expected.Theta, expected.ThetaPathMax);
            Tolerance.AssertMoment($"{where}: m", actual.ReadState(StateKind.FirstMoment), expected.M, expected.MScale);
            Tolerance.AssertMoment($"{where}: s", actual.ReadState(StateKind.SecondMoment), expected.S, expected.SScale);
            Assert.True((expected.SMax is not null) == actual.HasMaxSecondMoment,
                $"{where}: s_max exists natively: {actual.HasMaxSecondMoment}, in the reference: {expected.SMax is not null}");
            if (expected.SMax is not null)
            {
                Tolerance.AssertMoment($"{where}: s_max", actual.ReadState(StateKind.MaxSecondMoment), expected.SMax, expected.SMaxScale);
            }
        }
    }
}
