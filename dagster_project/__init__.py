"""Migration pipeline and warehouse for the 20 standardized core businesses (基幹業務20業務)."""

import warnings

# With the optional Spark target installed, `import pandera` pulls in pyspark.pandas, which warns
# about pandas 3 on every start; this project never uses pyspark.pandas.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
