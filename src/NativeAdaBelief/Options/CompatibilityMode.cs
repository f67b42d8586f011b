namespace NativeAdaBelief;

/// <summary>Which original implementation a parameter group reproduces (to float32 rounding).</summary>
public enum CompatibilityMode
{
    /// <summary>
    /// labml.ai's annotated AdaBelief (<c>labml_nn.optimizers</c>): ε is added to the second
    /// moment before the square root and never stored. The only mode that supports
    /// <see cref="SecondMoment.Square"/> (Adam, AMSGrad, RAdam) and
    /// <see cref="AdaBeliefOptions.OptimizedUpdate"/> = false.
    /// </summary>
    Labml = 0,

    /// <summary>
    /// The official <c>adabelief-pytorch</c> 0.2.1 package (timm's AdaBelief computes the same):
    /// ε is accumulated into the stored second moment every step.
    /// </summary>
    AdaBeliefPytorch = 1,
}
