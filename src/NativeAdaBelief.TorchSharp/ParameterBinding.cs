using NativeAdaBelief.TorchSharp.Interop;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// One TorchSharp parameter registered with the native optimizer by address: its parameter memory
/// and, re-read before every step, its gradient's. The gradient is checked in full (element type,
/// element count, device, contiguity) whenever its address changes, which is when TorchSharp
/// allocated a new one, or its element type, count or layout do at the same address; an unchanged
/// gradient costs six calls into libtorch and no allocation.
/// </summary>
internal sealed class ParameterBinding
{
    private ParameterBinding(Parameter parameter, OptimizerTensor tensor, string name, nint parameterAddress, Device device)
    {
        Parameter = parameter;
        Tensor = tensor;
        Name = name;
        ParameterAddress = parameterAddress;
        Device = device;
    }

    /// <summary>The TorchSharp parameter (held, so its memory lives as long as the optimizer).</summary>
    internal Parameter Parameter { get; }

    /// <summary>The native tensor it is registered as.</summary>
    internal OptimizerTensor Tensor { get; }

    /// <summary>"parameter 3 of group 0", for messages.</summary>
    internal string Name { get; }

    /// <summary>The parameter address the native tensor steps.</summary>
    internal nint ParameterAddress { get; private set; }

    /// <summary>The device the optimizer runs on.</summary>
    internal Device Device { get; }

    /// <summary>
    /// Registers <paramref name="parameter"/> in <paramref name="group"/> (16-bit parameters with a
    /// float32 master copy) with its current gradient, if any (its address: <paramref name="gradient"/>, 0 for none).
    /// </summary>
    /// <exception cref="ArgumentException">The parameter or its gradient cannot be stepped (the message says why).</exception>
    internal static ParameterBinding Register(ParameterGroup group, Parameter parameter, string name, Device device, string paramName,
        out nint gradient)
    {
        TensorElementType type = TorchTensors.CheckSteppable(parameter, name, paramName);
        CheckDevice(parameter, name, device, paramName);
        nint address = TorchTensors.AddressOf(parameter, name, paramName);
        gradient = 0;
        using (Tensor? grad = parameter.grad)
        {
            if (grad is not null)
            {
                gradient = CheckGradient(grad, parameter, type, name, device, paramName);
            }
        }
        OptimizerTensor tensor = group.AddTensor(address, type, gradient, type, parameter.numel(),
            keepMasterCopy: type != TensorElementType.Float32);
        return new ParameterBinding(parameter, tensor, name, address, device);
    }

    /// <summary>
    /// The gradient's address now (0 when it has none), checked in full when it is not
    /// <paramref name="registered"/> or when the tensor there is not what was registered: a new
    /// gradient can get the freed memory of the old one (the allocator reuses it) with another
    /// element type, element count or layout.
    /// </summary>
    /// <exception cref="ArgumentException">A new gradient that cannot be stepped.</exception>
    internal nint ReadGradient(nint registered)
    {
        nint handle = LibTorchSharp.THSTensor_grad(Parameter.Handle);
        if (handle == 0)
        {
            return 0;
        }
        nint address;
        bool same;
        try
        {
            address = LibTorchSharp.THSTensor_data(handle);
            same = address == registered && address != 0 && LibTorchSharp.THSTensor_is_contiguous(handle)
                && TorchTensors.ElementTypeOf((ScalarType)LibTorchSharp.THSTensor_type(handle)) == Tensor.GradientType
                && LibTorchSharp.THSTensor_numel(handle) == Tensor.Length;
        }
        finally
        {
            LibTorchSharp.THSTensor_dispose(handle);
        }
        if (!same)
        {
            using Tensor grad = Parameter.grad!;
            address = CheckGradient(grad, Parameter, Tensor.GradientType, Name, Device, "grad");
        }
        return address;
    }

    /// <summary>
    /// The parameter's address now, checked in full when it moved (TorchSharp's set_() or a move to
    /// another device after the optimizer was created).
    /// </summary>
    /// <exception cref="ArgumentException">The parameter moved to memory the optimizer cannot step.</exception>
    internal nint ReadParameter()
    {
        nint address = LibTorchSharp.THSTensor_data(Parameter.Handle);
        if (address != ParameterAddress || address == 0)
        {
            TensorElementType type = TorchTensors.CheckSteppable(Parameter, Name, "parameters");
            CheckDevice(Parameter, Name, Device, "parameters");
            if (type != Tensor.ParameterType || Parameter.numel() != Tensor.Length)
            {
                throw new ArgumentException(
                    $"{Name} changed from {Tensor.ParameterType} with {Tensor.Length} elements to {TorchTensors.Describe(Parameter)} "
                    + "since the optimizer was created: create a new optimizer for the changed model.", "parameters");
            }
            address = TorchTensors.AddressOf(Parameter, Name, "parameters");
        }
        return address;
    }

    /// <summary>Points the native tensor at the parameter's new memory (after <see cref="ReadParameter"/> found it moved).</summary>
    internal void MoveParameters(nint address)
    {
        Tensor.SetParameters(address, Tensor.ParameterType);
        ParameterAddress = address;
    }

    private static nint CheckGradient(Tensor grad, Parameter parameter, TensorElementType type, string name, Device device, string paramName)
    {
        string what = $"the gradient of {name}";
        TensorElementType gradType = TorchTensors.CheckSteppable(grad, what, paramName);
        if (gradType != type || grad.numel() != parameter.numel())
        {
            throw new ArgumentException(
                $"{what} is {TorchTensors.Describe(grad)} but the parameter is {TorchTensors.Describe(parameter)}: a gradient has its "
                + "parameter's element type and element count.", paramName);
        }
        CheckDevice(grad, what, device, paramName);
        return TorchTensors.AddressOf(grad, what, paramName);
    }

    private static void CheckDevice(Tensor tensor, string what, Device device, string paramName)
    {
        if (!TorchDevices.Same(tensor.device, device))
        {
            throw new ArgumentException(
                $"{what} is on {tensor.device}, but the optimizer steps tensors on {device}: one optimizer steps the parameters of one "
                + "device (move the model before creating the optimizer).", paramName);
        }
    }
}
