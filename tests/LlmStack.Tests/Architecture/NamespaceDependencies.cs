using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace LlmStack.Tests.Architecture;

/// <summary>
/// Which namespaces of one compiled assembly use which others, read from its metadata: base types, interfaces, field,
/// method and property signatures, and every type, method and field token in the method bodies (so a fully qualified
/// name or a <c>using static</c> counts as much as a <c>using</c>). Compiler-made types (lambdas, async state machines)
/// are nested in the type that wrote them and count for its namespace.
/// </summary>
internal static class NamespaceDependencies
{
    private static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value, o => o.OperandType);

    /// <summary>Namespace → the other namespaces of the same assembly it uses, with one example each ("Type → Type").</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Read(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var result = new Dictionary<string, Dictionary<string, string>>();
        var provider = new TypeCollector(reader);

        foreach (var handle in reader.TypeDefinitions)
        {
            var from = NamespaceOf(reader, handle);
            if (from.Length == 0)
            {
                continue;
            }

            var used = new HashSet<TypeDefinitionHandle>();
            var type = reader.GetTypeDefinition(handle);
            provider.Add(type.BaseType, used);
            foreach (var implementation in type.GetInterfaceImplementations())
            {
                provider.Add(reader.GetInterfaceImplementation(implementation).Interface, used);
            }

            foreach (var field in type.GetFields())
            {
                used.UnionWith(reader.GetFieldDefinition(field).DecodeSignature(provider, null));
            }

            foreach (var property in type.GetProperties())
            {
                var signature = reader.GetPropertyDefinition(property).DecodeSignature(provider, null);
                used.UnionWith(signature.ReturnType);
                used.UnionWith(signature.ParameterTypes.SelectMany(p => p));
            }

            foreach (var methodHandle in type.GetMethods())
            {
                var method = reader.GetMethodDefinition(methodHandle);
                var signature = method.DecodeSignature(provider, null);
                used.UnionWith(signature.ReturnType);
                used.UnionWith(signature.ParameterTypes.SelectMany(p => p));
                if (method.RelativeVirtualAddress != 0)
                {
                    var body = pe.GetMethodBody(method.RelativeVirtualAddress);
                    if (!body.LocalSignature.IsNil)
                    {
                        foreach (var local in reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(provider, null))
                        {
                            used.UnionWith(local);
                        }
                    }

                    foreach (var token in Tokens(body.GetILBytes()!))
                    {
                        provider.AddToken(token, used);
                    }
                }
            }

            foreach (var target in used)
            {
                var to = NamespaceOf(reader, target);
                if (to.Length == 0 || to == from)
                {
                    continue;
                }

                if (!result.TryGetValue(from, out var edges))
                {
                    result[from] = edges = [];
                }

                edges.TryAdd(to, $"{Name(reader, handle)} → {Name(reader, target)}");
            }
        }

        return result.ToDictionary(e => e.Key, e => (IReadOnlyDictionary<string, string>)e.Value);
    }

    /// <summary>The metadata tokens an IL body refers to (types, methods, fields; strings and signatures skipped).</summary>
    private static IEnumerable<int> Tokens(byte[] il)
    {
        var tokens = new List<int>();
        var i = 0;
        while (i < il.Length)
        {
            short value = il[i++];
            if (value == 0xFE)
            {
                value = (short)(0xFE00 | il[i++]);
            }

            var operand = Operands[value];
            switch (operand)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    i += 8;
                    break;
                case OperandType.InlineSwitch:
                    var count = BitConverter.ToInt32(il, i);
                    i += 4 + (4 * count);
                    break;
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                    tokens.Add(BitConverter.ToInt32(il, i));
                    i += 4;
                    break;
                default: // InlineBrTarget, InlineI, InlineR4 (ShortInlineR), InlineSig, InlineString
                    i += 4;
                    break;
            }
        }

        return tokens;
    }

    /// <summary>The namespace a type counts for: its own, or that of the outermost type it is nested in; "" for the module type.</summary>
    private static string NamespaceOf(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        while (type.IsNested)
        {
            type = reader.GetTypeDefinition(type.GetDeclaringType());
        }

        return reader.GetString(type.Namespace);
    }

    private static string Name(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        while (type.IsNested)
        {
            type = reader.GetTypeDefinition(type.GetDeclaringType());
        }

        return reader.GetString(type.Name);
    }

    /// <summary>Decodes signatures into the set of this assembly's types they mention (generic arguments included).</summary>
    private sealed class TypeCollector(MetadataReader reader) : ISignatureTypeProvider<IEnumerable<TypeDefinitionHandle>, object?>
    {
        public void Add(EntityHandle handle, HashSet<TypeDefinitionHandle> into)
        {
            if (handle.IsNil)
            {
                return;
            }

            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    into.Add((TypeDefinitionHandle)handle);
                    break;
                case HandleKind.TypeSpecification:
                    into.UnionWith(reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null));
                    break;
            }
        }

        public void AddToken(int token, HashSet<TypeDefinitionHandle> into)
        {
            var handle = MetadataTokens.EntityHandle(token);
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition or HandleKind.TypeSpecification:
                    Add(handle, into);
                    break;
                case HandleKind.MethodDefinition:
                    into.Add(reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType());
                    break;
                case HandleKind.FieldDefinition:
                    into.Add(reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType());
                    break;
                case HandleKind.MemberReference:
                    var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                    Add(member.Parent, into);
                    break;
                case HandleKind.MethodSpecification:
                    var specification = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    AddToken(MetadataTokens.GetToken(specification.Method), into);
                    into.UnionWith(specification.DecodeSignature(this, null).SelectMany(t => t));
                    break;
            }
        }

        public IEnumerable<TypeDefinitionHandle> GetTypeFromDefinition(MetadataReader metadata, TypeDefinitionHandle handle, byte rawTypeKind) => [handle];

        public IEnumerable<TypeDefinitionHandle> GetTypeFromReference(MetadataReader metadata, TypeReferenceHandle handle, byte rawTypeKind) => [];

        public IEnumerable<TypeDefinitionHandle> GetTypeFromSpecification(MetadataReader metadata, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            metadata.GetTypeSpecification(handle).DecodeSignature(this, context);

        public IEnumerable<TypeDefinitionHandle> GetSZArrayType(IEnumerable<TypeDefinitionHandle> elementType) => elementType;

        public IEnumerable<TypeDefinitionHandle> GetArrayType(IEnumerable<TypeDefinitionHandle> elementType, ArrayShape shape) => elementType;

        public IEnumerable<TypeDefinitionHandle> GetByReferenceType(IEnumerable<TypeDefinitionHandle> elementType) => elementType;

        public IEnumerable<TypeDefinitionHandle> GetPointerType(IEnumerable<TypeDefinitionHandle> elementType) => elementType;

        public IEnumerable<TypeDefinitionHandle> GetPinnedType(IEnumerable<TypeDefinitionHandle> elementType) => elementType;

        public IEnumerable<TypeDefinitionHandle> GetGenericInstantiation(IEnumerable<TypeDefinitionHandle> genericType, ImmutableArray<IEnumerable<TypeDefinitionHandle>> typeArguments) =>
            genericType.Concat(typeArguments.SelectMany(t => t));

        public IEnumerable<TypeDefinitionHandle> GetGenericMethodParameter(object? context, int index) => [];

        public IEnumerable<TypeDefinitionHandle> GetGenericTypeParameter(object? context, int index) => [];

        public IEnumerable<TypeDefinitionHandle> GetFunctionPointerType(MethodSignature<IEnumerable<TypeDefinitionHandle>> signature) =>
            signature.ReturnType.Concat(signature.ParameterTypes.SelectMany(p => p));

        public IEnumerable<TypeDefinitionHandle> GetModifiedType(IEnumerable<TypeDefinitionHandle> modifier, IEnumerable<TypeDefinitionHandle> unmodifiedType, bool isRequired) => unmodifiedType;

        public IEnumerable<TypeDefinitionHandle> GetPrimitiveType(PrimitiveTypeCode typeCode) => [];
    }
}
