from tests.training.conftest import one_maker_sale, paid_order, refund  # noqa: F401
