using System.Reflection;

namespace LlmStack.Pipeline;

/// <summary>
/// Finds the <see cref="Target"/> properties of a build: the class hierarchy (base first, each type in
/// declaration order), then default interface members of the components it implements (components by full name,
/// each in declaration order). A public class property overrides a component target of the same name.
/// </summary>
internal static class TargetDiscovery
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    public static IReadOnlyList<ExecutableTarget> Discover(object build)
    {
        var buildType = build.GetType();
        var found = new List<(string Name, PropertyInfo Property, Type Declaring)>();
        var names = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);

        foreach (var type in Hierarchy(buildType))
        {
            foreach (var property in type.GetProperties(Instance).Where(IsTarget).OrderBy(p => p.MetadataToken))
            {
                var name = TargetName(property);
                if (names.TryGetValue(name, out var other))
                {
                    if (other == type)
                    {
                        throw new PipelineException($"Target '{name}' is declared twice in {type.Name}.");
                    }

                    // A derived class redeclared it (new/override): the most derived wins.
                    found.RemoveAll(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));
                }

                names[name] = type;
                found.Add((name, property, type));
            }
        }

        var interfaceTargets = new Dictionary<string, List<(PropertyInfo Property, Type Declaring)>>(StringComparer.OrdinalIgnoreCase);
        foreach (var component in Components(buildType))
        {
            foreach (var property in component.GetProperties(Instance).Where(IsTarget).OrderBy(p => p.MetadataToken))
            {
                var name = TargetName(property);
                if (!interfaceTargets.TryGetValue(name, out var list))
                {
                    interfaceTargets[name] = list = [];
                }

                list.Add((property, component));
            }
        }

        foreach (var (name, candidates) in interfaceTargets)
        {
            if (names.ContainsKey(name))
            {
                var classProperty = found.First(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)).Property;
                if (!IsExplicitImplementation(classProperty) && classProperty.GetMethod?.IsPublic != true)
                {
                    throw new PipelineException(
                        $"Property '{name}' must be public to override the target inherited from {candidates[0].Declaring.Name}.");
                }

                continue;
            }

            // Interface re-implementations (IDerived : IBase { Target IBase.X => ... }) count once: the most derived.
            var distinct = candidates
                .Where(c => !candidates.Any(o => o.Declaring != c.Declaring && c.Declaring.IsAssignableFrom(o.Declaring)))
                .Select(c => c.Declaring)
                .Distinct()
                .ToList();
            if (distinct.Count > 1 && candidates.All(c => c.Property.DeclaringType!.IsInterface))
            {
                throw new PipelineException(
                    $"Target '{name}' is inherited from {string.Join(" and ", distinct.Select(d => d.Name))}: implement it explicitly in the build class.");
            }

            var chosen = candidates.First(c => c.Declaring == distinct[0]);
            found.Add((name, chosen.Property, chosen.Declaring));
        }

        var targets = new List<ExecutableTarget>(found.Count);
        foreach (var (name, property, declaring) in found)
        {
            // Invoking the interface property on the instance dispatches to the most derived implementation. Through a
            // delegate, not PropertyInfo.GetValue: reflection compiles an invoke thunk per getter, a cost at every start.
            var factory = property.GetMethod!.CreateDelegate<Func<Target>>(build)();
            var definition = new TargetDefinition(build, name);
            factory(definition);
            targets.Add(new ExecutableTarget(name, targets.Count, factory, definition, declaring));
        }

        Link(targets);
        return targets;
    }

    private static void Link(IReadOnlyList<ExecutableTarget> targets)
    {
        ExecutableTarget Find(ExecutableTarget owner, Target reference)
        {
            foreach (var target in targets)
            {
                if (target.Factory.Equals(reference))
                {
                    if (target == owner)
                    {
                        throw new PipelineException($"Target '{owner.Name}' cannot depend on itself.");
                    }

                    return target;
                }
            }

            throw new PipelineException(
                $"Target '{owner.Name}' refers to a target that is not declared on this build ({reference.Method.DeclaringType?.Name}).");
        }

        foreach (var target in targets)
        {
            var d = target.Definition;
            foreach (var dep in d.DependsOnTargets.Select(r => Find(target, r)))
            {
                AddUnique(target._executionDependencies, dep);
            }

            foreach (var dependent in d.DependentForTargets.Select(r => Find(target, r)))
            {
                AddUnique(dependent._executionDependencies, target);
            }

            foreach (var other in d.AfterTargets.Select(r => Find(target, r)))
            {
                AddUnique(target._orderDependencies, other);
            }

            foreach (var other in d.BeforeTargets.Select(r => Find(target, r)))
            {
                AddUnique(other._orderDependencies, target);
            }

            foreach (var triggered in d.TriggersTargets.Select(r => Find(target, r)))
            {
                AddUnique(target._triggers, triggered);
                AddUnique(triggered._triggerDependencies, target);
            }

            foreach (var trigger in d.TriggeredByTargets.Select(r => Find(target, r)))
            {
                AddUnique(trigger._triggers, target);
                AddUnique(target._triggerDependencies, trigger);
            }
        }
    }

    private static void AddUnique(List<ExecutableTarget> list, ExecutableTarget item)
    {
        if (!list.Contains(item))
        {
            list.Add(item);
        }
    }

    private static IEnumerable<Type> Hierarchy(Type type)
    {
        var chain = new Stack<Type>();
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
        {
            chain.Push(t);
        }

        return chain;
    }

    /// <summary>
    /// The interfaces a build implements, ordered by full name: <see cref="Type.GetInterfaces"/> promises no order, and
    /// the order of the targets found on them is the planner's tie-breaker.
    /// </summary>
    internal static IEnumerable<Type> Components(Type buildType) => buildType.GetInterfaces().OrderBy(i => i.FullName, StringComparer.Ordinal);

    private static bool IsTarget(PropertyInfo property) => property.PropertyType == typeof(Target) && property.GetIndexParameters().Length == 0;

    private static bool IsExplicitImplementation(PropertyInfo property) => property.Name.Contains('.', StringComparison.Ordinal);

    /// <summary>Explicit implementations (<c>IComponent.Compile</c>) are named by their last segment.</summary>
    private static string TargetName(PropertyInfo property)
    {
        var name = property.Name;
        var dot = name.LastIndexOf('.');
        return dot >= 0 ? name[(dot + 1)..] : name;
    }
}
