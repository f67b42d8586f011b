namespace NativeAdaBelief;

/// <summary>What the second moment s tracks.</summary>
public enum SecondMoment
{
    /// <summary>AdaBelief: an EMA of the squared residual (g − m)², the "belief" in the gradient.</summary>
    Belief = 0,

    /// <summary>The Adam family: an EMA of the squared gradient g² (Adam, AMSGrad, RAdam). <see cref="CompatibilityMode.Labml"/> only.</summary>
    Square = 1,
}
