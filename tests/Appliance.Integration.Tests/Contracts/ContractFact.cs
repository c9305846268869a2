using Xunit.Abstractions;
using Xunit.Sdk;

namespace Appliance.Integration.Tests.Contracts;

/// <summary>
/// A clause of a port's contract, written once in an abstract base class and run against every
/// implementation by a derived class (dotnet/iot's GpioControllerTestBase, Kestrel's one test source
/// over two transports). A plain [Fact] on a base method cannot be skipped for one implementation
/// only; this one reads the derived class's <see cref="ContractSkipAttribute"/> and
/// <see cref="ContractNeedsRootAttribute"/>, so each implementation says in one place which clauses
/// do not apply to it (or which it is known to break) and why.
/// </summary>
[XunitTestCaseDiscoverer("Appliance.Integration.Tests.Contracts.ContractFactDiscoverer", "Appliance.Integration.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ContractFactAttribute : FactAttribute
{
}

/// <summary>
/// On a derived contract class: the clause <see cref="Test"/> (a method name of the base) is skipped
/// for this implementation, with <see cref="Reason"/>: "not applicable: ..." for a clause the
/// implementation legitimately does not have, "BUG: ..." for a contract violation waiting for a fix.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class ContractSkipAttribute(string test, string reason) : Attribute
{
    public string Test { get; } = test;
    public string Reason { get; } = reason;
}

/// <summary>On a derived contract class: the implementation needs root (network namespaces); every clause skips, saying so, otherwise.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class ContractNeedsRootAttribute(string why) : Attribute
{
    public string Why { get; } = why;
}

/// <summary>On a derived contract class: the implementation needs a program that may not be installed; every clause skips, saying so, without it.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class ContractNeedsFileAttribute(string path, string install) : Attribute
{
    public string Path { get; } = path;
    public string Install { get; } = install;
}

public sealed class ContractFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        TestMethodDisplay display = discoveryOptions.MethodDisplayOrDefault();
        TestMethodDisplayOptions displayOptions = discoveryOptions.MethodDisplayOptionsOrDefault();
        string? skip = factAttribute.GetNamedArgument<string>(nameof(FactAttribute.Skip)) ?? SkipReason(testMethod);
        if (skip is not null)
            return [new XunitSkippedDataRowTestCase(diagnosticMessageSink, display, displayOptions, testMethod, skip)];
        return [new XunitTestCase(diagnosticMessageSink, display, displayOptions, testMethod)];
    }

    private static string? SkipReason(ITestMethod testMethod)
    {
        ITypeInfo type = testMethod.TestClass.Class;
        foreach (IAttributeInfo root in type.GetCustomAttributes(typeof(ContractNeedsRootAttribute)))
        {
            if (!Environment.IsPrivilegedProcess)
                return $"needs root ({root.GetConstructorArguments().Cast<string>().Single()}); CI runs it as root";
        }
        foreach (IAttributeInfo needs in type.GetCustomAttributes(typeof(ContractNeedsFileAttribute)))
        {
            object[] args = needs.GetConstructorArguments().ToArray();
            if (!File.Exists((string)args[0]))
                return $"{args[0]} not installed ({args[1]}); CI has it";
        }
        foreach (IAttributeInfo skip in type.GetCustomAttributes(typeof(ContractSkipAttribute)))
        {
            object[] args = skip.GetConstructorArguments().ToArray();
            if ((string)args[0] == testMethod.Method.Name)
                return (string)args[1];
        }
        return null;
    }
}
