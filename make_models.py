
def w14():  # w4 without the Multiply: three folded branches -> Average(3) -> Concatenate with a branch
    i = L.Input((6,))
    x = QActivation(quantized_bits(8, 2, 1), name="qin")(i)
    a = QDense(4, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), name="da")(x)
    a = QActivation(quantized_bits(10, 3, 1), name="aa")(a)
    b = QDense(4, kernel_quantizer=quantized_bits(4, 0, 1, alpha=1), name="db")(x)
    b = QActivation(quantized_bits(12, 3, 1), name="ab")(b)
    c = QDense(4, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1), name="dc")(x)
    c = QActivation(quantized_bits(6, 2, 1), name="ac")(c)
    av = L.Average(name="avg")([a, b, c])
    y = L.Concatenate(name="cat")([av, a])
    finish("w14_avgcat", keras.Model(i, y), grid((6,)))

def w15():  # two branches: Average(2) and Multiply -> Concatenate
    i = L.Input((6,))
    x = QActivation(quantized_bits(8, 2, 1), name="qin")(i)
    a = QDense(4, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), name="da")(x)
    a = QActivation(quantized_bits(10, 3, 1), name="aa")(a)
    b = QDense(4, kernel_quantizer=quantized_bits(4, 0, 1, alpha=1), name="db")(x)
    b = QActivation(quantized_bits(12, 3, 1), name="ab")(b)
    y = L.Concatenate(name="cat")([L.Average(name="avg")([a, b]), L.Multiply(name="mul")([a, b])])
    finish("w15_avgmul", keras.Model(i, y), grid((6,)))
