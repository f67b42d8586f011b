using NativeAdaBelief.Demo.Training;

namespace NativeAdaBelief.Demo.Paths;

/// <summary>A classic 2-D optimization test function with its gradient and a view for plotting.</summary>
internal sealed record TestFunction
{
    public required string Name { get; init; }
    public required Func<double, double, double> Value { get; init; }
    public required Func<double, double, (double Dx, double Dy)> Gradient { get; init; }
    public required (double X, double Y) Start { get; init; }
    public required (double X, double Y) Minimum { get; init; }
    public required (double XMin, double XMax, double YMin, double YMax) View { get; init; }
    public required int Steps { get; init; }

    /// <summary>Where the legend goes (a corner the paths leave empty).</summary>
    public ScottPlot.Alignment LegendCorner { get; init; } = ScottPlot.Alignment.UpperRight;

    /// <summary>Learning rate per optimizer (the adaptive ones share theirs; SGD needs a far smaller one).</summary>
    public required IReadOnlyDictionary<OptimizerKind, double> LearningRates { get; init; }

    /// <summary>Beale: three valleys meeting in a flat, curved basin; minimum 0 at (3, 0.5).</summary>
    public static TestFunction Beale { get; } = new()
    {
        Name = "Beale",
        Value = (x, y) =>
        {
            double a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y;
            return a * a + b * b + c * c;
        },
        Gradient = (x, y) =>
        {
            double a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y;
            double dx = 2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y * y * y - 1);
            double dy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y;
            return (dx, dy);
        },
        Start = (1.0, 1.5),
        Minimum = (3.0, 0.5),
        View = (-0.5, 4.0, -1.5, 2.0),
        Steps = 400,
        LegendCorner = ScottPlot.Alignment.UpperRight,
        LearningRates = new Dictionary<OptimizerKind, double>
        {
            [OptimizerKind.AdaBelief] = 0.05,
            [OptimizerKind.Adam] = 0.05,
            [OptimizerKind.Sgd] = 0.002,
        },
    };

    /// <summary>Rosenbrock: a long, narrow, curved valley; minimum 0 at (1, 1).</summary>
    public static TestFunction Rosenbrock { get; } = new()
    {
        Name = "Rosenbrock",
        Value = (x, y) => (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x),
        Gradient = (x, y) => (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)),
        Start = (-1.5, 2.0),
        Minimum = (1.0, 1.0),
        View = (-2.0, 2.0, -1.0, 3.0),
        Steps = 1500,
        LegendCorner = ScottPlot.Alignment.LowerRight,
        LearningRates = new Dictionary<OptimizerKind, double>
        {
            [OptimizerKind.AdaBelief] = 0.02,
            [OptimizerKind.Adam] = 0.02,
            [OptimizerKind.Sgd] = 0.0002,
        },
    };

    public static IReadOnlyList<TestFunction> All { get; } = [Beale, Rosenbrock];
}

/// <summary>One optimizer's path over a test function.</summary>
internal sealed record OptimizerPath(OptimizerKind Kind, double LearningRate, double[] Xs, double[] Ys, double FinalValue);

/// <summary>
/// Runs each optimizer on a test function: AdaBelief and Adam through the native core on a
/// 2-element tensor (the same code path as the model's 235k parameters), SGD with momentum in C#.
/// </summary>
internal static class PathRunner
{
    public static IReadOnlyList<OptimizerPath> Run(TestFunction function, IReadOnlyList<OptimizerKind> kinds)
    {
        var paths = new List<OptimizerPath>();
        foreach (OptimizerKind kind in kinds)
        {
            double rate = function.LearningRates[kind];
            var xs = new double[function.Steps + 1];
            var ys = new double[function.Steps + 1];
            using var parameters = NativeBuffer.FromSpan([(float)function.Start.X, (float)function.Start.Y]);
            using var gradients = new NativeBuffer(2);
            var tensor = new Model.ModelTensor("xy", parameters, gradients);
            using ITrainingOptimizer optimizer = OptimizerKinds.Create(kind, rate, [tensor], threads: 1, DeviceType.Cpu);
            Span<float> p = parameters.Span;
            Span<float> g = gradients.Span;
            xs[0] = p[0];
            ys[0] = p[1];
            for (int step = 1; step <= function.Steps; step++)
            {
                (double dx, double dy) = function.Gradient(p[0], p[1]);
                g[0] = (float)dx;
                g[1] = (float)dy;
                optimizer.Step();
                xs[step] = p[0];
                ys[step] = p[1];
            }
            paths.Add(new OptimizerPath(kind, rate, xs, ys, function.Value(p[0], p[1])));
        }
        return paths;
    }
}
