from tests.training.conftest import one_maker_sale, paid_order, pay, refund  # noqa: F401
