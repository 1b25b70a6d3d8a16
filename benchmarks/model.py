"""The seed's whole classifier, ``suite.TextCNN``: one utterance at a time, and a padded batch."""
from ._common import DTYPES, INTENT_CASES, Pinned, intent_model, intent_tokens


class TextCNN(Pinned):
    """``TextCNN.logits`` of the intent classifier on one thread (n/a before the model)."""

    params = (list(INTENT_CASES), list(DTYPES))
    param_names = ["case", "dtype"]
    version = "1"

    def setup(self, case, dtype):
        self.model = intent_model(dtype)
        super().setup()
        self.tokens, self.lengths = intent_tokens(case)
        self.warm_up(case, dtype)

    def time_text_cnn(self, case, dtype):
        self.model.logits(self.tokens, self.lengths, n_threads=1)
