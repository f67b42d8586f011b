namespace NativeAdaBelief.Tests.Reference;

/// <summary>
/// An independent float64 implementation of the update, written from shared/spec/adabelief.md
/// (and checked against the originals' sources: labml_nn/optimizers and adabelief-pytorch
/// 0.2.1), never from the native kernels. It mirrors the optimizer's bookkeeping: groups with
/// options, tensors with their own step counts, skipped tensors, s_max created zeroed when a
/// group turns AMSGrad on.
/// </summary>
/// <remarks>
/// One deliberate reading of labml's class hierarchy: with <see cref="SecondMoment.Square"/>
/// (labml's Adam/AMSGrad/RAdam) ε is NOT added inside v — their <c>get_mv</c> returns the raw
/// EMA and only the denominator adds ε; labml's AdaBelief adds ε to s (<c>s + eps</c>) before
/// calling the same update. So v = s (or s_max) for Square and v = s + ε for Belief.
/// </remarks>
internal sealed class ReferenceAdaBelief
{
    private readonly List<AdaBeliefOptions> _groups = [];

    public List<ReferenceTensor> Tensors { get; } = [];

    public IReadOnlyList<AdaBeliefOptions> Groups => _groups;

    public int AddGroup(AdaBeliefOptions options)
    {
        _groups.Add(options);
        return _groups.Count - 1;
    }

    public ReferenceTensor AddTensor(int group, ReadOnlySpan<float> parameters)
    {
        double[] theta = new double[parameters.Length];
        for (int i = 0; i < theta.Length; i++)
        {
            theta[i] = parameters[i];
        }
        var tensor = new ReferenceTensor(group, theta);
        if (_groups[group].AmsGrad)
        {
            tensor.SMax = new double[theta.Length];
            tensor.SMaxScale = new double[theta.Length];
        }
        Tensors.Add(tensor);
        return tensor;
    }

    public void SetOptions(int group, AdaBeliefOptions options)
    {
        _groups[group] = options;
        if (options.AmsGrad)
        {
            foreach (ReferenceTensor t in Tensors)
            {
                if (t.Group == group)
                {
                    t.SMax ??= new double[t.Length];
                    t.SMaxScale ??= new double[t.Length];
                }
            }
        }
    }

    public void SetLearningRate(int group, double learningRate) =>
        _groups[group] = _groups[group] with { LearningRate = learningRate };

    /// <summary>One optimizer step: <paramref name="gradients"/>[i] is tensor i's gradient, or null to skip it.</summary>
    public void Step(IReadOnlyList<float[]?> gradients)
    {
        for (int i = 0; i < Tensors.Count; i++)
        {
            if (gradients[i] is { } g)
            {
                StepTensor(_groups[Tensors[i].Group], Tensors[i], g);
            }
        }
    }

    /// <summary>The rectification term r_t, or null while it is intractable (ρ_t &lt; 5).</summary>
    public static double? Rectification(double beta2, long t)
    {
        double beta2t = Math.Pow(beta2, t);
        double rhoInf = 2.0 / (1.0 - beta2) - 1.0;
        double rho = rhoInf - 2.0 * t * beta2t / (1.0 - beta2t);
        if (rho >= 5.0)
        {
            return Math.Sqrt((rho - 4.0) / (rhoInf - 4.0) * (rho - 2.0) / rho * rhoInf / (rhoInf - 2.0));
        }
        return null;
    }

    public static void StepTensor(AdaBeliefOptions o, ReferenceTensor x, ReadOnlySpan<float> gradient)
    {
        double lr = o.LearningRate, b1 = o.Beta1, b2 = o.Beta2, eps = o.Epsilon, wd = o.WeightDecay;
        bool labml = o.Compatibility == CompatibilityMode.Labml;
        bool belief = o.SecondMoment == SecondMoment.Belief;

        long t = x.Step + 1;
        x.Step = t;
        double bc1 = 1.0 - Math.Pow(b1, t);
        double bc2 = 1.0 - Math.Pow(b2, t);
        double? rt = o.Rectify ? Rectification(b2, t) : null;

        for (int i = 0; i < x.Length; i++)
        {
            double theta = x.Theta[i];
            double g = gradient[i];

            // Weight decay, first.
            switch (o.WeightDecayMode)
            {
                case WeightDecayMode.Decoupled:
                    theta *= 1.0 - lr * wd;
                    break;
                case WeightDecayMode.Absolute:
                    theta *= 1.0 - wd;
                    break;
                case WeightDecayMode.L2:
                    if (wd != 0.0)
                    {
                        g += wd * theta;
                    }
                    break;
            }

            double decayed = theta;

            // Moments.
            double m = b1 * x.M[i] + (1.0 - b1) * g;
            double r = belief ? g - m : g;
            double s = b2 * x.S[i] + (1.0 - b2) * r * r;
            x.M[i] = m;
            x.MScale[i] = b1 * x.MScale[i] + (1.0 - b1) * Math.Abs(g);
            double termScale = belief ? Math.Abs(g) + Math.Abs(m) : Math.Abs(g);
            x.SScale[i] = b2 * x.SScale[i] + (1.0 - b2) * termScale * termScale + (labml ? 0.0 : eps);
            if (x.SMaxScale is { } smaxScale)
            {
                smaxScale[i] = Math.Max(smaxScale[i], x.SScale[i]);
            }

            if (labml)
            {
                x.S[i] = s;
                double basis = s;
                if (o.AmsGrad)
                {
                    basis = x.SMax![i] = Math.Max(x.SMax[i], s);
                }
                double v = belief ? basis + eps : basis;
                if (!o.Rectify || rt is not null)
                {
                    double r_ = rt ?? 1.0;
                    theta -= o.OptimizedUpdate
                        ? lr * Math.Sqrt(bc2) * r_ / bc1 * m / (Math.Sqrt(v) + eps)
                        : lr * r_ / bc1 * m / (Math.Sqrt(v) / Math.Sqrt(bc2) + eps);
                }
                else if (o.DegenerateToSgd)
                {
                    theta -= lr / bc1 * m;
                }
            }
            else
            {
                s += eps; // stored: ε accumulates into the state
                x.S[i] = s;
                double d;
                if (o.AmsGrad)
                {
                    double smax = x.SMax![i] = Math.Max(x.SMax[i], s);
                    d = Math.Sqrt(smax) / Math.Sqrt(bc2) + eps;
                }
                else
                {
                    d = Math.Sqrt(s) / Math.Sqrt(bc2) + eps;
                }
                if (!o.Rectify)
                {
                    theta -= lr / bc1 * m / d;
                }
                else if (rt is double r_)
                {
                    theta -= lr * Math.Sqrt(bc2) * r_ / bc1 * m / (Math.Sqrt(s) + eps); // s, not s_max
                }
                else if (o.DegenerateToSgd)
                {
                    theta -= lr / bc1 * m;
                }
            }
            x.Theta[i] = theta;
            x.ThetaPathMax[i] = Math.Max(x.ThetaPathMax[i], Math.Max(Math.Max(Math.Abs(decayed), Math.Abs(theta)), Math.Abs(decayed - theta)));
        }
    }
}
