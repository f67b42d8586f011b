namespace NativeAdaBelief;

/// <summary>The per-tensor state arrays an optimizer owns.</summary>
public enum StateKind
{
    /// <summary>m: the EMA of the gradient.</summary>
    FirstMoment = 0,

    /// <summary>s: the EMA of the squared residual (or of the squared gradient with <see cref="NativeAdaBelief.SecondMoment.Square"/>).</summary>
    SecondMoment = 1,

    /// <summary>s_max: the running maximum of s; exists only once the tensor's group has had AMSGrad on.</summary>
    MaxSecondMoment = 2,

    /// <summary>
    /// The float32 master copy of 16-bit parameters; exists only for tensors registered with
    /// <c>keepMasterCopy: true</c> (<see cref="OptimizerTensor.HasMasterParameters"/>). Every step
    /// updates it and writes its rounding to nearest, ties to even, into the 16-bit parameters.
    /// </summary>
    MasterParameters = 3,
}
