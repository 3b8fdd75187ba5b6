using Xunit.Abstractions;
using Xunit.Sdk;

namespace LlmStack.IntegrationTests;

/// <summary>Runs a class's tests in the order of their names (A_…, B_…): for classes whose tests share one stack and change it in turn.</summary>
public sealed class DeclarationOrderer : ITestCaseOrderer
{
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal);
}
